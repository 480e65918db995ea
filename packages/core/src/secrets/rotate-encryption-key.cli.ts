// `npm run rotate-encryption-key [-- --generate] [-- --dry-run]`: re-seals every secret at rest
// (webhook signing secrets, CalDAV passwords) under the current key, and seals the webhook secrets
// still stored in clear. See rotateEncryptionKey for how; the procedure is in the README.
//
// Cluster mode: ENCRYPTION_KEY is the new key, ENCRYPTION_KEY_PREVIOUS the old one(s), set on
// every process (restarted) before this runs; afterwards the old keys can go.
// Embedded mode (the key in DATA_DIR): `--generate` writes a new key first, keeping the old one in
// DATA_DIR/encryption-key.previous until every value is re-sealed. The server must be stopped: it
// holds the DATA_DIR's lock, and opening the database here fails while it runs.
import path from 'node:path';
import { loadConfigOrExit } from '../config';
import { secretBoxFor } from '../core';
import { openDatabase } from '../db/client';
import { keyId } from '../lib/encryption';
import {
  EMBEDDED_KEY_FILE,
  installNewEmbeddedKey,
  PREVIOUS_KEY_FILE,
  readPreviousKeyFile,
  removePreviousKeyFile,
} from './key-files';
import { missingTables, rotateEncryptionKey } from './key-rotation';

const USAGE = 'usage: npm run rotate-encryption-key [-- --generate] [-- --dry-run]';
const args = process.argv.slice(2);
const unknown = args.find((a) => !['--generate', '--dry-run', '--help', '-h'].includes(a));
if (unknown || args.includes('--help') || args.includes('-h')) {
  if (unknown) console.error(`unknown option ${unknown}`);
  console.error(USAGE);
  process.exit(unknown ? 2 : 0);
}
const generate = args.includes('--generate');
const dryRun = args.includes('--dry-run');
if (generate && dryRun) {
  console.error('--generate and --dry-run do not go together');
  process.exit(2);
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const config = loadConfigOrExit();
// The key in DATA_DIR is used (and --generate may replace it) when no ENCRYPTION_KEY is set.
const keyInDataDir = !config.encryptionKey && !config.databaseUrl;
if (config.dataDir.startsWith('memory://') && keyInDataDir)
  fail('DATA_DIR=memory:// keeps nothing between runs: there is nothing to rotate.');
if (generate && !keyInDataDir)
  fail(
    config.encryptionKey
      ? '--generate replaces the key kept in DATA_DIR (embedded mode without ENCRYPTION_KEY). With ENCRYPTION_KEY: make a key (openssl rand -hex 32), set ENCRYPTION_KEY=<new> and ENCRYPTION_KEY_PREVIOUS=<old> on every process, restart them, then run this command without --generate.'
      : 'ENCRYPTION_KEY is not set: with DATABASE_URL there is no key to rotate to. Make one (openssl rand -hex 32), set ENCRYPTION_KEY on every process, restart them, then run this command.',
  );
if (!config.encryptionKey && config.databaseUrl)
  fail(
    'ENCRYPTION_KEY is not set: with DATABASE_URL there is no key to seal with. Make one (openssl rand -hex 32), set ENCRYPTION_KEY on every process, restart them, then run this command.',
  );

let database: Awaited<ReturnType<typeof openDatabase>>;
try {
  // Embedded: this takes the DATA_DIR's lock, so it fails while the server runs (before any key changes).
  database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
} catch (err) {
  fail(
    `Cannot open the database: ${(err as Error).message}${keyInDataDir ? ' (stop the Taskman server first: key rotation in embedded mode needs it stopped)' : ''}`,
  );
}

let exitCode = 0;
try {
  const missing = await missingTables(database.db);
  if (missing.length > 0)
    throw new Error(
      `the database has no table ${missing.join(', ')}: migrate it first (npm run migrate, or start the server once)`,
    );
  if (generate) {
    const { key, previous } = installNewEmbeddedKey(config.dataDir);
    console.log(
      `New key ${keyId(key)} written to ${path.join(config.dataDir, EMBEDDED_KEY_FILE)}; the old one (${previous.map(keyId).join(', ')}) is kept in ${PREVIOUS_KEY_FILE} until every value is re-sealed.`,
    );
  }
  const box = secretBoxFor(config)!;
  const previous = box.previousKeyIds;
  console.log(
    `${dryRun ? 'Checking' : 'Re-sealing'} every secret at rest under key ${box.keyId}${previous.length ? ` (opening with previous keys ${previous.join(', ')} too)` : ' (no previous key given)'} in ${database.location}.`,
  );
  const report = await rotateEncryptionKey(database.db, box, { dryRun });
  const verb = dryRun ? 'to re-seal' : 're-sealed';
  for (const c of report.columns)
    console.log(
      `${c.table}.${c.column}: ${c.values} value(s): ${c.resealed} ${verb}, ${c.sealedFromClear} ${dryRun ? 'to seal' : 'sealed'} (stored in clear), ${c.current} already under key ${report.keyId}`,
    );
  if (dryRun) {
    console.log(`Dry run: every value opens; ${report.changed} would change. Nothing was written.`);
  } else {
    console.log(`Done: ${report.changed} value(s) changed; every sealed value is under key ${report.keyId}.`);
    if (keyInDataDir && removePreviousKeyFile(config.dataDir))
      console.log(`Removed ${PREVIOUS_KEY_FILE}: the old key is gone.`);
    if (config.encryptionKeyPrevious.length > 0)
      console.log(
        'You may now remove ENCRYPTION_KEY_PREVIOUS from every process (and restart them); backups made before this still need the old key.',
      );
  }
} catch (err) {
  // A failed query says which query in its message and why in its cause.
  const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : '';
  console.error(`Key rotation failed: ${(err as Error).message}${cause}`);
  if (keyInDataDir && readPreviousKeyFile(config.dataDir).length > 0)
    console.error(
      `The new key is in place and the old one stays in ${PREVIOUS_KEY_FILE}: the server starts and opens every value with both. Fix the problem, then run npm run rotate-encryption-key again to finish.`,
    );
  exitCode = 1;
} finally {
  await database.close();
}
process.exit(exitCode);
