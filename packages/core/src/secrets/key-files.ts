import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { loadOrCreateSecret } from '../lib/secret';

/** Embedded mode's key (no ENCRYPTION_KEY): DATA_DIR/encryption-key, made on first start. */
export const EMBEDDED_KEY_FILE = 'encryption-key';
/**
 * The keys it replaced, one a line, while `npm run rotate-encryption-key -- --generate` re-seals
 * (kept if that is interrupted: the server still opens every value, and running the command again
 * finishes the job); removed once every value is under the new key.
 */
export const PREVIOUS_KEY_FILE = 'encryption-key.previous';

/** The keys of DATA_DIR/encryption-key.previous; none when there is no such file. */
export function readPreviousKeyFile(dataDir: string): string[] {
  try {
    return readFileSync(path.join(dataDir, PREVIOUS_KEY_FILE), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Writes a file (mode 0600) under a temporary name, flushes it and renames it into place. */
function writeFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * Embedded mode's key rotation, step 1 (the database closed to other processes): the current key
 * joins encryption-key.previous (written first: no moment without it), then a new key (64 hex
 * characters, so it can become an ENCRYPTION_KEY later) replaces encryption-key.
 */
export function installNewEmbeddedKey(dataDir: string): { key: string; previous: string[] } {
  const current = loadOrCreateSecret(dataDir, EMBEDDED_KEY_FILE);
  const previous = [...new Set([...readPreviousKeyFile(dataDir), current])];
  writeFileDurably(path.join(dataDir, PREVIOUS_KEY_FILE), `${previous.join('\n')}\n`);
  const key = randomBytes(32).toString('hex');
  writeFileDurably(path.join(dataDir, EMBEDDED_KEY_FILE), `${key}\n`);
  return { key, previous };
}

/** Step 3, once every value is sealed under the current key: the old keys are forgotten. */
export function removePreviousKeyFile(dataDir: string): boolean {
  try {
    unlinkSync(path.join(dataDir, PREVIOUS_KEY_FILE));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
