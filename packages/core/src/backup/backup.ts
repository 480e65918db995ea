// Encrypted backups (`npm run backup`, `npm run restore -- FILE`): see format.ts for the file format.
//
// Cluster mode: `pg_dump --format=custom` streamed through the encryption into the file; restore
// decrypts (checking every chunk) into a private temporary file, then runs `pg_restore` in one
// transaction into an empty database.
// The role taskman_app, which the schema's grants and row-level security policies name, is
// created before pg_restore when missing (roles are not part of a dump).
// Embedded mode: PGlite's dump of the data directory, plus the DATA_DIR secret files (jwt-secret,
// encryption-key[.previous]: sealed values and sessions need them), in a small container,
// gzip-compressed, then encrypted. The server must be stopped (PGlite is one process's database).
// Restore writes them into a DATA_DIR that holds no database yet, again after checking every chunk.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openAsBlob,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { ConfigError } from '../config';
import { ROW_SCOPE_SETTING } from '../db/rls';
import {
  BackupError,
  type BackupKind,
  DECRYPT_FAILED,
  DecryptStream,
  deriveFileKey,
  EncryptStream,
  HEADER_LENGTH,
  type Header,
  type KeyMaterial,
  type KeySource,
  newHeader,
  parseHeader,
} from './format';

export { BackupError, DECRYPT_FAILED, type Header, type KeySource, parseHeader } from './format';

type Env = Record<string, string | undefined>;

/** The role the row-level security policies grant to; roles are cluster-wide, so not in a dump. */
export const APP_ROLE = 'taskman_app';
/**
 * DATA_DIR files that travel with an embedded backup (see core.ts: jwtSecretFor, secretBoxFor): the
 * sessions' signing secret, the key sealing secrets at rest, and the keys it replaced while a key
 * rotation is unfinished (secrets/key-files.ts).
 */
export const EMBEDDED_SECRET_FILES = ['jwt-secret', 'encryption-key', 'encryption-key.previous'] as const;
const PGDATA_ENTRY = 'pgdata.tar';

// ---------------------------------------------------------------------------------------------
// Configuration: only what backups need, validated in the style of config.ts.

export interface BackupConfig {
  mode: 'embedded' | 'cluster';
  /** The database pg_dump / pg_restore use: BACKUP_DATABASE_URL, else DATABASE_URL. */
  databaseUrl: string | undefined;
  dataDir: string;
  backupKey: Buffer | undefined;
  passphrase: string | undefined;
  encryptionKey: Buffer | undefined;
}

const PASSPHRASE_MIN = 12;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function fail(name: string, message: string): never {
  // Never echo the value: these variables hold secrets.
  throw new ConfigError(`Invalid configuration: ${name} ${message}`);
}

function postgresUrl(env: Env, name: string): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    fail(name, 'must be a URL (postgres, postgresql)');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol))
    fail(name, 'must use one of the schemes postgres, postgresql');
  return raw;
}

function hexKey(env: Env, name: string): Buffer | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  if (!/^[0-9a-f]{64}$/i.test(raw)) fail(name, 'must be 64 hexadecimal characters (32 bytes)');
  return Buffer.from(raw, 'hex');
}

/** Reads DATABASE_URL, BACKUP_DATABASE_URL, DATA_DIR, BACKUP_KEY, BACKUP_PASSPHRASE, ENCRYPTION_KEY. */
export function loadBackupConfig(env: Env = process.env): BackupConfig {
  const databaseUrl = postgresUrl(env, 'DATABASE_URL');
  const backupDatabaseUrl = postgresUrl(env, 'BACKUP_DATABASE_URL');
  const backupKey = hexKey(env, 'BACKUP_KEY');
  const rawPassphrase = env.BACKUP_PASSPHRASE;
  const passphrase = rawPassphrase?.trim() ? rawPassphrase : undefined;
  if (passphrase !== undefined && [...passphrase].length < PASSPHRASE_MIN)
    fail('BACKUP_PASSPHRASE', `must be at least ${PASSPHRASE_MIN} characters long`);
  const dataDir = str(env, 'DATA_DIR') ?? './data';
  return {
    mode: databaseUrl || backupDatabaseUrl ? 'cluster' : 'embedded',
    databaseUrl: backupDatabaseUrl ?? databaseUrl,
    dataDir: dataDir.startsWith('memory://') ? dataDir : path.resolve(dataDir),
    backupKey,
    passphrase,
    encryptionKey: hexKey(env, 'ENCRYPTION_KEY'),
  };
}

// ---------------------------------------------------------------------------------------------
// Keys

const EMBEDDED_KEY = 'encryption-key';

export function describeKey(source: KeySource, dataDir?: string): string {
  switch (source) {
    case 'BACKUP_KEY':
      return 'BACKUP_KEY';
    case 'BACKUP_PASSPHRASE':
      return 'a key derived from BACKUP_PASSPHRASE (scrypt)';
    case 'ENCRYPTION_KEY':
      return 'ENCRYPTION_KEY (BACKUP_KEY and BACKUP_PASSPHRASE are not set)';
    case 'embedded':
      return `the embedded key ${path.join(dataDir ?? 'DATA_DIR', EMBEDDED_KEY)} (BACKUP_KEY and BACKUP_PASSPHRASE are not set)`;
  }
}

function readEmbeddedKey(dataDir: string): Buffer | undefined {
  if (dataDir.startsWith('memory://')) return undefined;
  try {
    return Buffer.from(readFileSync(path.join(dataDir, EMBEDDED_KEY), 'utf8').trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The key a new backup is encrypted with: BACKUP_KEY, BACKUP_PASSPHRASE, ENCRYPTION_KEY, the embedded key. */
function chooseKey(config: BackupConfig): KeyMaterial {
  if (config.backupKey) return { source: 'BACKUP_KEY', kdf: 'hkdf', ikm: config.backupKey };
  if (config.passphrase) return { source: 'BACKUP_PASSPHRASE', kdf: 'scrypt', passphrase: config.passphrase };
  if (config.encryptionKey) return { source: 'ENCRYPTION_KEY', kdf: 'hkdf', ikm: config.encryptionKey };
  const embedded = config.mode === 'embedded' ? readEmbeddedKey(config.dataDir) : undefined;
  if (embedded) return { source: 'embedded', kdf: 'hkdf', ikm: embedded };
  throw new BackupError(
    'no backup key: set BACKUP_KEY (64 hexadecimal characters, e.g. `openssl rand -hex 32`) or BACKUP_PASSPHRASE',
  );
}

/** The key a backup says it was encrypted with, from this environment. */
function keyFor(header: Header, config: BackupConfig): KeyMaterial {
  const missing = (what: string) =>
    new BackupError(`this backup was encrypted with ${what}: set it to restore (or verify) the backup`);
  switch (header.keySource) {
    case 'BACKUP_KEY':
      if (!config.backupKey) throw missing('BACKUP_KEY');
      return { source: 'BACKUP_KEY', kdf: 'hkdf', ikm: config.backupKey };
    case 'BACKUP_PASSPHRASE':
      if (!config.passphrase) throw missing('BACKUP_PASSPHRASE');
      return { source: 'BACKUP_PASSPHRASE', kdf: 'scrypt', passphrase: config.passphrase };
    case 'ENCRYPTION_KEY':
      if (!config.encryptionKey) throw missing('ENCRYPTION_KEY');
      return { source: 'ENCRYPTION_KEY', kdf: 'hkdf', ikm: config.encryptionKey };
    case 'embedded': {
      const embedded = readEmbeddedKey(config.dataDir);
      if (!embedded)
        throw new BackupError(
          `this backup was encrypted with the embedded key of the DATA_DIR it was made from: copy that DATA_DIR's ${EMBEDDED_KEY} file to ${path.join(config.dataDir, EMBEDDED_KEY)} and restore again`,
        );
      return { source: 'embedded', kdf: 'hkdf', ikm: embedded };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  u.searchParams.delete('password');
  return u.toString();
}

/**
 * libpq settings for pg_dump / pg_restore: the URL without its password as --dbname (libpq reads
 * URIs, with their sslmode and other parameters), the password in PGPASSWORD: never on a command line.
 */
function libpq(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  let password = u.password ? decodeURIComponent(u.password) : undefined;
  const inQuery = u.searchParams.get('password');
  if (inQuery !== null) password = inQuery;
  u.password = '';
  u.searchParams.delete('password');
  return {
    dbname: u.toString(),
    env: { ...process.env, ...(password !== undefined ? { PGPASSWORD: password } : {}) },
  };
}

/** Runs a PostgreSQL client program; resolves with its exit code and the start of its stderr. */
function runTool(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdout: 'pipe' | 'ignore',
): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(program, args, { env, stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 8192) stderr += s;
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new BackupError(
              `${program} not found: install the PostgreSQL client programs (version 15 or later)`,
            )
          : err,
      ),
    );
    child.once('close', (code) => resolve({ code, stderr }));
  });
  return { child, done };
}

const firstLine = (stderr: string): string => {
  const lines = stderr.split('\n').map((l) => l.trim());
  return lines.find((l) => /error|fatal/i.test(l)) ?? lines.find(Boolean) ?? 'no output';
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The DATA_DIR lock of db/client.ts (same file, same contents): a running server holds it. Unlike
 * the server, a lock held by this very process counts as held (an open database in a test).
 */
function lockDataDir(dataDir: string, doing: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'taskman.lock');
  const mine = String(process.pid);
  try {
    writeFileSync(file, mine, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number(readFileSync(file, 'utf8').trim());
    if (owner && isAlive(owner))
      throw new BackupError(
        `the embedded database in ${dataDir} is in use by a running Taskman process (pid ${owner}): stop the server first, ${doing} of the embedded database needs it stopped`,
      );
    writeFileSync(file, mine);
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === mine) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MiB`;

export function defaultBackupFile(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return path.resolve('backups', `taskman-${stamp}.tmbackup`);
}

// ---------------------------------------------------------------------------------------------
// Backup

export interface BackupOptions {
  env?: Env;
  /** Default: ./backups/taskman-<UTC timestamp>.tmbackup. */
  out?: string;
  /** Progress lines for the user (stdout in the CLI). */
  log?: (line: string) => void;
  /** Plaintext bytes per encrypted chunk (tests use small ones). */
  chunkSize?: number;
  now?: Date;
}

export interface BackupResult {
  file: string;
  kind: BackupKind;
  keySource: KeySource;
  bytes: number;
}

/** Writes an encrypted backup of the configured database (DATABASE_URL, else DATA_DIR). */
export async function createBackup(opts: BackupOptions = {}): Promise<BackupResult> {
  const config = loadBackupConfig(opts.env);
  const log = opts.log ?? (() => {});
  const key = chooseKey(config);
  const file = path.resolve(opts.out ?? defaultBackupFile(opts.now));
  if (existsSync(file)) throw new BackupError(`${file} exists already: choose another --out`);
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (opts.out === undefined) chmodSync(dir, 0o700);
  const kind: BackupKind = config.mode === 'cluster' ? 'postgres' : 'pglite';
  // pg_dump's custom format is compressed already.
  const header = newHeader({ kind, gzip: kind === 'pglite', key, chunkSize: opts.chunkSize, now: opts.now });
  const fileKey = await deriveFileKey(header, key);
  const partial = path.join(dir, `.${path.basename(file)}.${process.pid}.partial`);

  const write = async (source: Readable, compress: boolean) => {
    const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
    out.write(header.bytes);
    const encrypt = new EncryptStream(header, fileKey);
    if (compress) await pipeline(source, createGzip(), encrypt, out);
    else await pipeline(source, encrypt, out);
  };

  try {
    if (config.mode === 'cluster') {
      const url = config.databaseUrl!;
      log(`Backing up the PostgreSQL database ${redact(url)}`);
      log(`Encrypting with ${describeKey(key.source)}`);
      await dumpPostgres(url, (stdout) => write(stdout, false));
    } else {
      log(`Backing up the embedded database in ${config.dataDir}`);
      log(`Encrypting with ${describeKey(key.source, config.dataDir)}`);
      const included = await dumpPglite(config.dataDir, (source) => write(source, true));
      log(`Included the DATA_DIR secret files: ${included.join(', ') || 'none'}`);
      if (key.source === 'embedded')
        log(
          `Note: this backup can only be read with this ${path.join(config.dataDir, EMBEDDED_KEY)}: keep a copy of that file somewhere else (again after rotating it), or set BACKUP_PASSPHRASE or BACKUP_KEY`,
        );
    }
    const handle = await open(partial, 'r+');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    chmodSync(partial, 0o600);
    await rename(partial, file);
  } catch (err) {
    await unlink(partial).catch(() => {});
    throw err;
  }
  const { size } = await stat(file);
  log(`Wrote ${file} (${mib(size)})`);
  return { file, kind, keySource: key.source, bytes: size };
}

async function dumpPostgres(url: string, write: (stdout: Readable) => Promise<void>): Promise<void> {
  const { dbname, env } = libpq(url);
  // Row-level security (migration 0019) applies to the tables' owner too (FORCE). A superuser or a
  // BYPASSRLS role sees every row anyway; the owner sees every row in the 'system' row scope, as
  // the application's own background work does. pg_dump's default (row_security off) would make
  // the owner's dump fail instead.
  const options = [env.PGOPTIONS, `-c ${ROW_SCOPE_SETTING}=system`].filter(Boolean).join(' ');
  const { child, done } = runTool(
    'pg_dump',
    ['--format=custom', '--enable-row-security', '--no-password', `--dbname=${dbname}`],
    { ...env, PGOPTIONS: options },
    'pipe',
  );
  // A failed write (a full disk) stops pg_dump; a failed pg_dump ends its output early.
  const written = write(child.stdout as Readable).catch((err: unknown) => {
    child.kill();
    throw err;
  });
  const [writeResult, exit] = await Promise.allSettled([written, done]);
  if (exit.status === 'rejected') throw exit.reason;
  if (writeResult.status === 'rejected') throw writeResult.reason;
  if (exit.value.code !== 0) {
    const line = firstLine(exit.value.stderr);
    const hint = /row-level security|permission denied/i.test(line)
      ? ' (set BACKUP_DATABASE_URL to a URL of the role that owns the tables)'
      : '';
    throw new BackupError(`pg_dump failed: ${line}${hint}`);
  }
}

/** The embedded database's dump and the DATA_DIR secret files, as one container stream. */
async function dumpPglite(dataDir: string, write: (source: Readable) => Promise<void>): Promise<string[]> {
  if (dataDir.startsWith('memory://'))
    throw new BackupError('DATA_DIR is memory://: an in-memory database has nothing to back up');
  const pgdata = path.join(dataDir, 'pgdata');
  if (!existsSync(path.join(pgdata, 'PG_VERSION')))
    throw new BackupError(`there is no embedded database in ${dataDir} (nothing to back up)`);
  const release = lockDataDir(dataDir, 'a backup');
  try {
    const client = await PGlite.create(pgdata);
    let dump: Blob;
    try {
      dump = await client.dumpDataDir('none');
    } finally {
      await client.close();
    }
    const secrets: [string, Buffer][] = [];
    for (const name of EMBEDDED_SECRET_FILES) {
      const file = path.join(dataDir, name);
      if (existsSync(file)) secrets.push([name, readFileSync(file)]);
    }
    await write(Readable.from(containerEntries([...secrets, [PGDATA_ENTRY, dump]])));
    return secrets.map(([name]) => name);
  } finally {
    release();
  }
}

// The embedded payload (before gzip): entries of
//   name length (u16 BE) | name (UTF-8) | data length (u64 BE) | data
// ending with a name length of 0. Entries: jwt-secret and encryption-key when DATA_DIR has them,
// then pgdata.tar (PGlite's dumpDataDir, uncompressed).
async function* containerEntries(entries: [string, Buffer | Blob][]): AsyncGenerator<Buffer> {
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const head = Buffer.alloc(2 + nameBytes.length + 8);
    head.writeUInt16BE(nameBytes.length, 0);
    nameBytes.copy(head, 2);
    const size = Buffer.isBuffer(data) ? data.length : data.size;
    head.writeBigUInt64BE(BigInt(size), 2 + nameBytes.length);
    yield head;
    if (Buffer.isBuffer(data)) yield data;
    else
      for await (const part of data.stream() as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(part);
  }
  yield Buffer.alloc(2);
}

interface ContainerEntry {
  name: string;
  offset: number;
  length: number;
}

async function readContainer(file: string): Promise<ContainerEntry[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const entries: ContainerEntry[] = [];
    let pos = 0;
    const read = async (n: number) => {
      if (pos + n > size) throw new BackupError(DECRYPT_FAILED);
      const buf = Buffer.alloc(n);
      await handle.read(buf, 0, n, pos);
      pos += n;
      return buf;
    };
    for (;;) {
      const nameLength = (await read(2)).readUInt16BE(0);
      if (nameLength === 0) break;
      const name = (await read(nameLength)).toString('utf8');
      const length = Number((await read(8)).readBigUInt64BE(0));
      if (![...EMBEDDED_SECRET_FILES, PGDATA_ENTRY].includes(name) || pos + length > size)
        throw new BackupError(DECRYPT_FAILED);
      entries.push({ name, offset: pos, length });
      pos += length;
    }
    if (pos !== size || !entries.some((e) => e.name === PGDATA_ENTRY)) throw new BackupError(DECRYPT_FAILED);
    return entries;
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Decrypting, verifying, restoring

async function readHeader(file: string): Promise<Header> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`${file}: no such file`);
    throw err;
  }
  try {
    const bytes = Buffer.alloc(HEADER_LENGTH);
    const { bytesRead } = await handle.read(bytes, 0, HEADER_LENGTH, 0);
    return parseHeader(bytes.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Decrypts (and decompresses) the whole file into `sink`; fails, having checked every chunk, on any damage. */
async function decryptInto(file: string, header: Header, key: KeyMaterial, sink: Writable): Promise<void> {
  const fileKey = await deriveFileKey(header, key);
  const source = createReadStream(file, { start: HEADER_LENGTH });
  const decrypt = new DecryptStream(header, fileKey);
  try {
    if (header.gzip) await pipeline(source, decrypt, createGunzip(), sink);
    else await pipeline(source, decrypt, sink);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    // zlib on authenticated data fails only if the writer wrote garbage: damaged all the same.
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new BackupError(DECRYPT_FAILED);
    throw err;
  }
}

/** Decrypts into a private temporary file (0600 in a 0700 folder), removed after `use`. */
async function withDecrypted<T>(
  file: string,
  header: Header,
  key: KeyMaterial,
  use: (plain: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'taskman-restore-'));
  try {
    const plain = path.join(dir, 'payload');
    await decryptInto(file, header, key, createWriteStream(plain, { flags: 'wx', mode: 0o600 }));
    return await use(plain);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface VerifyOptions {
  file: string;
  env?: Env;
  /** Write the decrypted payload here (a pg_dump custom-format file, or the embedded container). */
  out?: string;
}

/** Decrypts the whole backup, checking every chunk, and writes nothing (or the payload to `out`). */
export async function verifyBackup(opts: VerifyOptions): Promise<Header> {
  const config = loadBackupConfig(opts.env);
  const header = await readHeader(opts.file);
  const key = keyFor(header, config);
  const sink = opts.out
    ? createWriteStream(opts.out, { flags: 'wx', mode: 0o600 })
    : new Writable({ write: (_chunk, _enc, done) => done() });
  try {
    await decryptInto(opts.file, header, key, sink);
  } catch (err) {
    if (opts.out) await unlink(opts.out).catch(() => {});
    throw err;
  }
  return header;
}

export interface RestoreOptions {
  file: string;
  env?: Env;
  log?: (line: string) => void;
}

export interface RestoreResult {
  kind: BackupKind;
  /** Where the data went (a URL without its password, or the DATA_DIR). */
  target: string;
  header: Header;
}

const KIND_NAMES: Record<BackupKind, string> = {
  postgres: 'a PostgreSQL database (cluster mode)',
  pglite: 'an embedded database (DATA_DIR)',
};

/**
 * Restores a backup into the configured database, which must be empty: a PostgreSQL database with
 * no tables (DATABASE_URL, or BACKUP_DATABASE_URL), or a DATA_DIR with no database yet.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const config = loadBackupConfig(opts.env);
  const log = opts.log ?? (() => {});
  const file = path.resolve(opts.file);
  const header = await readHeader(file);
  const targetKind: BackupKind = config.mode === 'cluster' ? 'postgres' : 'pglite';
  if (header.kind !== targetKind)
    throw new BackupError(
      `this is a backup of ${KIND_NAMES[header.kind]}; it can only be restored into ${KIND_NAMES[header.kind]}, not into ${KIND_NAMES[targetKind]}`,
    );
  const what = `${file} (${header.kind === 'postgres' ? 'a PostgreSQL' : 'an embedded'} backup of ${header.createdAt.toISOString()})`;
  if (config.mode === 'cluster') {
    const url = config.databaseUrl!;
    await restorePostgres(url, file, header, what, () => keyFor(header, config), log);
    log(`Restored into ${redact(url)}`);
    return { kind: header.kind, target: redact(url), header };
  }
  await restorePglite(config, file, header, what, log);
  log(`Restored into ${config.dataDir}`);
  return { kind: header.kind, target: config.dataDir, header };
}

/**
 * Creates a NOLOGIN role unless it exists (roles are cluster-wide: a dump's GRANTs to it need it),
 * and makes the connected role a member when it may (as migration 0019 does for the owner, who
 * switches to it with SET ROLE; a membership is not part of a dump either). Resolves true when the
 * role was created.
 */
export async function ensureRole(client: pg.ClientBase, role: string = APP_ROLE): Promise<boolean> {
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new RangeError(`not a plain role name: ${role}`);
  const found = await client.query('select 1 from pg_roles where rolname = $1', [role]);
  if (!found.rowCount) {
    try {
      await client.query(
        `do $$ begin create role ${role} nologin; exception when duplicate_object or unique_violation then null; end $$`,
      );
    } catch (err) {
      throw new BackupError(
        `could not create the role ${role} (${(err as Error).message}): ask an administrator to run CREATE ROLE ${role} NOLOGIN, then restore again`,
      );
    }
  }
  await client.query(
    `do $$ begin grant ${role} to current_user; exception when insufficient_privilege or invalid_grant_operation then null; end $$`,
  );
  return !found.rowCount;
}

async function restorePostgres(
  url: string,
  file: string,
  header: Header,
  what: string,
  key: () => KeyMaterial,
  log: (line: string) => void,
): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new BackupError(`could not connect to ${redact(url)}: ${(err as Error).message}`);
  }
  try {
    const { rows } = await client.query<{ name: string }>(
      `select n.nspname || '.' || c.relname as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and n.nspname not in ('pg_catalog', 'information_schema')
          and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
        order by 1 limit 4`,
    );
    if (rows.length > 0)
      throw new BackupError(
        `restore refused: the database ${redact(url)} is not empty (it has ${rows
          .slice(0, 3)
          .map((r) => r.name)
          .join(', ')}${rows.length > 3 ? ', …' : ''}); restore into a new, empty database`,
      );
    const material = key();
    log(`Restoring ${what}`);
    log(`Decrypting with ${describeKey(material.source)}`);
    await withDecrypted(file, header, material, async (plain) => {
      log('Every chunk authenticated; restoring');
      // The schema grants to taskman_app (row-level security); roles live outside any database.
      if (await ensureRole(client)) log(`Created the role ${APP_ROLE} (NOLOGIN)`);
      const { dbname, env } = libpq(url);
      const { done } = runTool(
        'pg_restore',
        [
          '--no-owner',
          '--exit-on-error',
          '--single-transaction',
          '--no-password',
          `--dbname=${dbname}`,
          plain,
        ],
        env,
        'ignore',
      );
      const { code, stderr } = await done;
      if (code !== 0) throw new BackupError(`pg_restore failed, nothing was restored: ${firstLine(stderr)}`);
    });
  } finally {
    await client.end().catch(() => {});
  }
}

async function restorePglite(
  config: BackupConfig,
  file: string,
  header: Header,
  what: string,
  log: (line: string) => void,
): Promise<void> {
  const { dataDir } = config;
  if (dataDir.startsWith('memory://'))
    throw new BackupError('DATA_DIR is memory://: set DATA_DIR to the folder to restore into');
  const pgdata = path.join(dataDir, 'pgdata');
  const hasDatabase = () => existsSync(pgdata) && readdirSync(pgdata).length > 0;
  const refuse = () =>
    new BackupError(
      `restore refused: ${dataDir} holds an embedded database already (${pgdata}); restore into a DATA_DIR without one`,
    );
  if (hasDatabase()) throw refuse();
  const key = keyFor(header, config);
  log(`Restoring ${what}`);
  log(`Decrypting with ${describeKey(key.source, dataDir)}`);
  // Nothing in DATA_DIR is touched (not even the lock) before every chunk has been authenticated.
  await withDecrypted(file, header, key, async (plain) => {
    log('Every chunk authenticated; restoring');
    const release = lockDataDir(dataDir, 'a restore');
    try {
      if (hasDatabase()) throw refuse();
      const entries = await readContainer(plain);
      const secrets: [string, Buffer][] = [];
      for (const entry of entries.filter((e) => e.name !== PGDATA_ENTRY)) {
        const data = Buffer.alloc(entry.length);
        const handle = await open(plain, 'r');
        try {
          await handle.read(data, 0, entry.length, entry.offset);
        } finally {
          await handle.close();
        }
        const target = path.join(dataDir, entry.name);
        if (existsSync(target) && readFileSync(target, 'utf8').trim() !== data.toString('utf8').trim())
          throw new BackupError(
            `restore refused: ${target} exists and differs from the backup's; move it away and restore again`,
          );
        secrets.push([entry.name, data]);
      }
      const tar = entries.find((e) => e.name === PGDATA_ENTRY)!;
      const created = !existsSync(pgdata);
      mkdirSync(pgdata, { recursive: true });
      try {
        const blob = (await openAsBlob(plain)).slice(tar.offset, tar.offset + tar.length);
        const client = await PGlite.create({ dataDir: pgdata, loadDataDir: blob });
        await client.close();
      } catch (err) {
        // Leave the DATA_DIR as it was: no half-written database.
        if (created) await rm(pgdata, { recursive: true, force: true });
        else
          for (const f of readdirSync(pgdata))
            await rm(path.join(pgdata, f), { recursive: true, force: true });
        throw new BackupError(`restore failed, nothing was restored: ${(err as Error).message}`);
      }
      for (const [name, data] of secrets) {
        const target = path.join(dataDir, name);
        if (!existsSync(target)) writeFileSync(target, data, { mode: 0o600, flag: 'wx' });
        chmodSync(target, 0o600);
      }
      if (secrets.length) log(`Restored the DATA_DIR secret files: ${secrets.map(([n]) => n).join(', ')}`);
    } finally {
      release();
    }
  });
}
