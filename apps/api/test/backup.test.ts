// Encrypted backups (`npm run backup`, `npm run restore`), on the engine this project runs on: a
// database filled through the API is backed up with the real code path (pg_dump, or PGlite's dump
// of a real DATA_DIR), restored into a new, empty database, and every table (drizzle's migrations
// included) and sequence compared row by row; the restored database serves the same users, tokens,
// API keys and sealed secrets. A wrong key, a flipped byte, a truncated or extended file and
// reordered chunks all fail with one line and leave the target alone; a non-empty target is refused;
// the file holds no plaintext. On PostgreSQL the command line is run as a process too.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type Core, createCore, type Database, loadConfig, openDatabase } from '@taskman/core';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  APP_ROLE,
  createBackup,
  DECRYPT_FAILED,
  defaultBackupFile,
  ensureRole,
  restoreBackup,
  verifyBackup,
} from '../../../packages/core/src/backup/backup';
import { HEADER_LENGTH, parseHeader, TAG_LENGTH } from '../../../packages/core/src/backup/format';
import { SecretBox } from '../../../packages/core/src/lib/encryption';
import { buildApp } from '../src/app';
import { TEST_ENV, testDb } from './helpers/app';
import { Client, signUp, uniqueEmail } from './helpers/client';
import { ROOT } from './helpers/process';

const KEY = randomBytes(32).toString('hex');
const OTHER_KEY = randomBytes(32).toString('hex');
const PASSPHRASE = 'correct horse battery staple, backed up';
const TITLE = `Quarterly plan ${randomBytes(6).toString('hex')}`;

type Snapshot = Record<string, string[]>;

const rowsOf = async <T = any>(database: Database, query: string): Promise<T[]> =>
  ((await database.db.execute(sql.raw(query))) as unknown as { rows: T[] }).rows;

/** Every table's rows (as jsonb text, sorted) and every sequence's position, in every schema. */
async function snapshot(database: Database): Promise<Snapshot> {
  const out: Snapshot = {};
  const tables = await rowsOf<{ s: string; t: string }>(
    database,
    `select table_schema as s, table_name as t from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
      order by 1, 2`,
  );
  for (const { s, t } of tables) {
    const rows = await rowsOf<{ r: string }>(database, `select to_jsonb(x)::text as r from "${s}"."${t}" x`);
    out[`${s}.${t}`] = rows.map((r) => r.r).sort();
  }
  const sequences = await rowsOf<{ s: string; n: string }>(
    database,
    `select sequence_schema as s, sequence_name as n from information_schema.sequences order by 1, 2`,
  );
  for (const { s, n } of sequences) {
    const [row] = await rowsOf(database, `select last_value, is_called from "${s}"."${n}"`);
    out[`sequence ${s}.${n}`] = [JSON.stringify(row)];
  }
  return out;
}

/** Grants and row-level security, which a PostgreSQL restore must bring back too. */
async function privileges(database: Database): Promise<unknown[]> {
  return rowsOf(
    database,
    `select c.relname, (select array_agg(a::text order by a::text) from unnest(c.relacl) a)::text as acl, c.relrowsecurity, c.relforcerowsecurity,
            (select json_agg(json_build_object('name', p.polname, 'roles', p.polroles::regrole[]::text,
                    'using', pg_get_expr(p.polqual, p.polrelid)) order by p.polname)
               from pg_policy p where p.polrelid = c.oid)::text as policies
       from pg_class c where c.relnamespace = 'public'::regnamespace order by 1`,
  );
}

interface Filled {
  ann: Client & { user: any; password: string };
  apiKey: string;
  webhook: { id: string; secret: string };
}

/** Users, a project, tasks with tags, due dates and reminders, an API key, a webhook, a feed. */
async function fill(app: FastifyInstance): Promise<Filled> {
  const ann = await signUp(app, { name: 'Ann Backup', email: uniqueEmail('ann.backup') });
  const bob = await signUp(app, { name: 'Bob Backup', timezone: 'Europe/Paris' });
  const project = await ann.post('/api/v1/projects', { name: 'Launch', description: 'Everything for it' });
  expect(project.status, project.raw).toBe(201);
  const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
  const tasks = [
    { title: TITLE, project_id: project.body.data.id, tags: ['plans', 'q3'], due_date: inDays(3) },
    {
      title: 'Call the printer',
      tags: ['calls'],
      due_date: inDays(1),
      remind_at: inDays(0.5),
      priority: 'high',
    },
    { title: 'Water the plants', description: 'Ünïcödé ✓ and "quotes"', status: 'in_progress' },
  ];
  for (const body of tasks) {
    const res = await ann.post('/api/v1/tasks', body);
    expect(res.status, res.raw).toBe(201);
  }
  const done = await ann.post('/api/v1/tasks', { title: 'Already done', tags: ['old'] });
  expect((await ann.patch(`/api/v1/tasks/${done.body.data.id}`, { status: 'done' })).status).toBe(200);
  expect((await bob.post('/api/v1/tasks', { title: 'Bob’s task', due_date: inDays(7) })).status).toBe(201);
  const key = await ann.post('/api/v1/api-keys', { name: 'ci', scopes: ['tasks:read'] });
  expect(key.status, key.raw).toBe(201);
  const hook = await ann.post('/api/v1/webhooks', {
    url: 'https://hooks.example.com/backup',
    events: ['task.created'],
  });
  expect(hook.status, hook.raw).toBe(201);
  expect((await ann.post('/api/v1/calendar/feed')).status).toBeLessThan(300);
  return { ann, apiKey: key.body.data.key, webhook: hook.body.data };
}

/** The restored database serves what was saved: sign-in, the old token, the API key. */
async function expectServes(core: Core, filled: Filled): Promise<void> {
  const app = await buildApp({ core, logger: false, webAppDir: false });
  try {
    const login = await new Client(app).post('/api/v1/auth/login', {
      email: filled.ann.user.email,
      password: filled.ann.password,
    });
    expect(login.status, login.raw).toBe(200);
    const tasks = await new Client(app, login.body.data.token).get('/api/v1/tasks');
    expect(tasks.body.data.map((t: { title: string }) => t.title)).toContain(TITLE);
    expect((await new Client(app, filled.ann.token).get('/api/v1/users/me')).status).toBe(200);
    expect((await new Client(app, filled.apiKey).get('/api/v1/tasks')).status).toBe(200);
  } finally {
    await app.close();
  }
}

/** Copies of a backup with one flipped byte, cut short, extended and with two chunks swapped. */
function damaged(file: string, dir: string): Record<string, string> {
  const bytes = readFileSync(file);
  const { chunkSize } = parseHeader(bytes);
  const record = chunkSize + TAG_LENGTH;
  const chunks = Math.ceil((bytes.length - HEADER_LENGTH) / record);
  expect(chunks).toBeGreaterThanOrEqual(3);
  const write = (name: string, data: Buffer) => {
    const out = path.join(dir, name);
    writeFileSync(out, data);
    return out;
  };
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(bytes.length / 2)]! ^= 0x01;
  const salt = Buffer.from(bytes);
  salt[30]! ^= 0x80;
  const swapped = Buffer.from(bytes);
  bytes.copy(swapped, HEADER_LENGTH, HEADER_LENGTH + record, HEADER_LENGTH + 2 * record);
  bytes.copy(swapped, HEADER_LENGTH + record, HEADER_LENGTH, HEADER_LENGTH + record);
  return {
    'a flipped byte': write('flipped', flipped),
    'a changed header (salt)': write('salt', salt),
    'a missing last byte': write('short', bytes.subarray(0, bytes.length - 1)),
    'the last chunk missing (cut at a chunk boundary)': write(
      'boundary',
      bytes.subarray(0, HEADER_LENGTH + (chunks - 1) * record),
    ),
    'appended data': write('appended', Buffer.concat([bytes, randomBytes(100)])),
    'an appended copy of the last chunk': write(
      'appended-chunk',
      Buffer.concat([bytes, bytes.subarray(HEADER_LENGTH + (chunks - 1) * record)]),
    ),
    'two chunks swapped': write('swapped', swapped),
  };
}

const mode = (file: string) => statSync(file).mode & 0o777;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'taskman-backup-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('backup file names', () => {
  it('defaults to ./backups/taskman-<UTC timestamp>.tmbackup', () => {
    expect(defaultBackupFile(new Date('2025-03-04T05:06:07.890Z'))).toBe(
      path.resolve('backups', 'taskman-20250304T050607Z.tmbackup'),
    );
  });
});

describe.runIf(testDb === 'postgres')('backups of a PostgreSQL database (cluster mode)', () => {
  // As deployed: the tables belong to an owner role that is no superuser (row-level security
  // applies to it: FORCE), which migrates, backs up and restores; the app runs as taskman_app.
  const OWNER = `taskman_bk_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let filled: Filled;
  let before: Snapshot;
  let beforePrivileges: unknown[];
  let backupFile: string;
  /** The source database, as the superuser (snapshots, the CLI) and as the owner. */
  let sourceUrl: string;
  const databases: string[] = [];

  const urlOf = (name: string, user?: string) => {
    const u = new URL(inject('pgAdminUrl'));
    u.pathname = `/${name}`;
    if (user) u.username = user;
    return u.toString();
  };
  const asOwner = (url: string) => {
    const u = new URL(url);
    u.username = OWNER;
    u.password = '';
    return u.toString();
  };
  /** A new, empty database owned by OWNER (named so that the test run's teardown drops it if we do not). */
  async function emptyDatabase(): Promise<string> {
    const name = `${inject('pgTemplate').replace('_tpl_', '_t_')}_bk${randomBytes(4).toString('hex')}`;
    await admin.query(`create database ${name} owner ${OWNER} template template0`);
    databases.push(name);
    return urlOf(name);
  }
  async function withDatabase<T>(url: string, use: (database: Database) => Promise<T>): Promise<T> {
    const database = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolMax: 2 });
    try {
      return await use(database);
    } finally {
      await database.close();
    }
  }
  const relations = (url: string) =>
    withDatabase(url, async (d) =>
      Number(
        (
          await rowsOf<{ n: string }>(
            d,
            `select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`,
          )
        )[0]!.n,
      ),
    );

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
    await admin.query(`create role ${OWNER} login`);
    await ensureRole(admin);
    await admin.query(`grant ${APP_ROLE} to ${OWNER}`);
    sourceUrl = await emptyDatabase();
    // Migrated by the owner, filled through the API (as taskman_app, with row-level security).
    const database = await openDatabase({ databaseUrl: asOwner(sourceUrl), dataDir: 'unused', poolMax: 5 });
    const core = await createCore(loadConfig({ ...TEST_ENV }), { database, migrate: true });
    const app = await buildApp({ core, logger: false, webAppDir: false });
    try {
      filled = await fill(app);
    } finally {
      // Nothing writes any more: the snapshot is what the backup must hold.
      await app.close();
      await core.close();
    }
    before = await withDatabase(sourceUrl, snapshot);
    beforePrivileges = await withDatabase(sourceUrl, privileges);
    backupFile = path.join(work, 'pg.tmbackup');
    const lines: string[] = [];
    const result = await createBackup({
      // BACKUP_DATABASE_URL wins: DATABASE_URL leads nowhere.
      env: {
        DATABASE_URL: 'postgres://taskman_app_login@127.0.0.1:1/nowhere',
        BACKUP_DATABASE_URL: asOwner(sourceUrl),
        BACKUP_KEY: KEY,
      },
      out: backupFile,
      log: (l) => lines.push(l),
    });
    expect(result).toMatchObject({ file: backupFile, kind: 'postgres', keySource: 'BACKUP_KEY' });
    expect(lines.join('\n')).toContain(`Backing up the PostgreSQL database ${asOwner(sourceUrl)}`);
    expect(lines.join('\n')).toContain('Encrypting with BACKUP_KEY');
  });

  afterAll(async () => {
    for (const name of databases) await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`drop role if exists ${OWNER}`);
    await admin?.end();
  });

  it('holds every row, grant and policy, and restores them into an empty database', async () => {
    expect(mode(backupFile)).toBe(0o600);
    const header = parseHeader(readFileSync(backupFile));
    expect(header).toMatchObject({
      kind: 'postgres',
      gzip: false,
      keySource: 'BACKUP_KEY',
      chunkSize: 65536,
    });
    expect(before['public.users']).toHaveLength(2);
    expect(before['public.tasks']!.length).toBeGreaterThanOrEqual(5);
    expect(before['public.api_keys']).toHaveLength(1);
    expect(before['public.webhooks']).toHaveLength(1);
    expect(before['drizzle.__drizzle_migrations']!.length).toBeGreaterThan(10);

    const target = await emptyDatabase();
    const lines: string[] = [];
    await restoreBackup({
      file: backupFile,
      env: { DATABASE_URL: asOwner(target), BACKUP_KEY: KEY },
      log: (l) => lines.push(l),
    });
    expect(lines.join('\n')).toContain('Every chunk authenticated');
    expect(await withDatabase(target, snapshot)).toEqual(before);
    expect(await withDatabase(target, privileges)).toEqual(beforePrivileges);
    // As the owner starts it: migrations (none pending), then queries as taskman_app.
    const database = await openDatabase({ databaseUrl: asOwner(target), dataDir: 'unused', poolMax: 5 });
    const core = await createCore(loadConfig({ ...TEST_ENV }), { database, migrate: true });
    try {
      await expectServes(core, filled);
    } finally {
      await core.close();
    }
  });

  it('is encrypted: no plaintext in the file, which the key opens into a pg_dump archive', async () => {
    const bytes = readFileSync(backupFile);
    for (const text of [TITLE, filled.ann.user.email, 'PGDMP', 'CREATE TABLE'])
      expect(bytes.includes(Buffer.from(text)), text).toBe(false);
    const plain = path.join(work, 'pg.plain');
    await verifyBackup({ file: backupFile, env: { BACKUP_KEY: KEY }, out: plain });
    const sqlText = await run('pg_restore', ['--data-only', '-f', '-', plain]);
    expect(sqlText.code).toBe(0);
    expect(sqlText.stdout).toContain(TITLE);
    expect(sqlText.stdout).toContain(filled.ann.user.email);
  });

  it('fails with one line on a wrong key or any damage, and leaves the empty target alone', async () => {
    const target = await emptyDatabase();
    await expect(
      restoreBackup({ file: backupFile, env: { DATABASE_URL: target, BACKUP_KEY: OTHER_KEY } }),
    ).rejects.toThrow(DECRYPT_FAILED);
    await expect(
      restoreBackup({ file: backupFile, env: { DATABASE_URL: target, BACKUP_PASSPHRASE: PASSPHRASE } }),
    ).rejects.toThrow('this backup was encrypted with BACKUP_KEY: set it');
    // Small chunks: a dump this size spans many, so chunk-level damage can be tried.
    const chunked = path.join(work, 'pg-chunked.tmbackup');
    await createBackup({
      env: { DATABASE_URL: asOwner(sourceUrl), BACKUP_KEY: KEY },
      out: chunked,
      chunkSize: 1024,
    });
    await verifyBackup({ file: chunked, env: { BACKUP_KEY: KEY } });
    for (const [what, file] of Object.entries(damaged(chunked, work))) {
      await expect(
        restoreBackup({ file, env: { DATABASE_URL: target, BACKUP_KEY: KEY } }),
        what,
      ).rejects.toThrow(DECRYPT_FAILED);
    }
    expect(await relations(target)).toBe(0);
  });

  it('refuses to restore into a database that has tables, changing nothing', async () => {
    await expect(
      restoreBackup({ file: backupFile, env: { DATABASE_URL: asOwner(sourceUrl), BACKUP_KEY: KEY } }),
    ).rejects.toThrow(/^restore refused: the database .* is not empty/);
    expect(await withDatabase(sourceUrl, snapshot)).toEqual(before);
  });

  it('creates the NOLOGIN role the grants need when it is missing, once', async () => {
    const role = `taskman_bk_${randomBytes(4).toString('hex')}`;
    try {
      expect(await ensureRole(admin, role)).toBe(true);
      expect(await ensureRole(admin, role)).toBe(false);
      const { rows } = await admin.query('select rolcanlogin from pg_roles where rolname = $1', [role]);
      expect(rows).toEqual([{ rolcanlogin: false }]);
    } finally {
      await admin.query(`drop role if exists ${role}`);
    }
  });

  it('runs as `npm run backup` / `npm run restore` do, with one line and exit code 1 on failure', async () => {
    const out = path.join(work, 'cli', 'nested', 'cli.tmbackup');
    // The password travels in PGPASSWORD, never on a command line (the server trusts, ignoring it).
    const withPassword = new URL(sourceUrl);
    withPassword.password = 'not-on-the-command-line';
    const backup = await cli(['backup', '--out', out], {
      DATABASE_URL: withPassword.toString(),
      BACKUP_PASSPHRASE: PASSPHRASE,
    });
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain('Encrypting with a key derived from BACKUP_PASSPHRASE (scrypt)');
    expect(backup.stdout).not.toContain('not-on-the-command-line');
    expect(backup.stdout).toContain(`Wrote ${out}`);
    expect(mode(out)).toBe(0o600);
    expect(mode(path.dirname(out))).toBe(0o700);
    expect(parseHeader(readFileSync(out))).toMatchObject({ keySource: 'BACKUP_PASSPHRASE', kdf: 'scrypt' });

    const target = await emptyDatabase();
    const restore = await cli(['restore', out], { DATABASE_URL: target, BACKUP_PASSPHRASE: PASSPHRASE });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(await withDatabase(target, snapshot)).toEqual(before);

    const again = await cli(['restore', out], { DATABASE_URL: target, BACKUP_PASSPHRASE: PASSPHRASE });
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/^restore refused: the database .* is not empty/);

    const empty = await emptyDatabase();
    const wrong = await cli(['restore', backupFile], { DATABASE_URL: empty, BACKUP_KEY: OTHER_KEY });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(`${DECRYPT_FAILED}\n`);
    expect(await relations(empty)).toBe(0);

    const badKey = await cli(['backup'], { DATABASE_URL: target, BACKUP_KEY: 'not-hex' });
    expect(badKey.code).not.toBe(0);
    expect(badKey.stderr).toBe(
      'Invalid configuration: BACKUP_KEY must be 64 hexadecimal characters (32 bytes)\n',
    );
  });
});

describe.runIf(testDb === 'pglite')('backups of the embedded database (DATA_DIR)', () => {
  let dataDir: string;
  let filled: Filled;
  let before: Snapshot;
  let backupFile: string;
  // Embedded mode as `npm start` runs it: the secrets in DATA_DIR files (no JWT_SECRET).
  const { JWT_SECRET: _, ...embeddedEnv } = TEST_ENV;
  const configFor = (dir: string) => loadConfig({ ...embeddedEnv, DATA_DIR: dir });

  async function withDataDir<T>(dir: string, use: (database: Database) => Promise<T>): Promise<T> {
    const database = await openDatabase({ dataDir: dir });
    try {
      return await use(database);
    } finally {
      await database.close();
    }
  }
  let dirs = 0;
  const newDataDir = () => path.join(work, `data-${++dirs}`);
  /** What a failed restore must not have left: a database, secret files, a lock. */
  const untouched = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

  /** Every file under a folder with its size and modification time: what "changing nothing" means here. */
  const treeState = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .map((f) => {
        const st = statSync(path.join(dir, f));
        return `${f} ${st.size} ${st.mtimeMs}`;
      })
      .sort();

  beforeAll(async () => {
    dataDir = newDataDir();
    // The migrated database of the test run (faster than initdb and every migration on disk).
    mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
    const seed = await PGlite.create({
      dataDir: path.join(dataDir, 'pgdata'),
      loadDataDir: new Blob([readFileSync(inject('pgliteDump'))]),
    });
    await seed.close();
    const core = await createCore(configFor(dataDir));
    const app = await buildApp({ core, logger: false, webAppDir: false });
    try {
      filled = await fill(app);
      // The running server holds DATA_DIR: a backup says to stop it.
      await expect(createBackup({ env: { DATA_DIR: dataDir, BACKUP_KEY: KEY } })).rejects.toThrow(
        /is in use by a running Taskman process \(pid \d+\): stop the server first/,
      );
    } finally {
      await app.close();
      await core.close();
    }
    before = await withDataDir(dataDir, snapshot);
    backupFile = path.join(work, 'embedded.tmbackup');
    const lines: string[] = [];
    const result = await createBackup({
      env: { DATA_DIR: dataDir, BACKUP_KEY: KEY },
      out: backupFile,
      log: (l) => lines.push(l),
    });
    expect(result).toMatchObject({ kind: 'pglite', keySource: 'BACKUP_KEY' });
    expect(lines.join('\n')).toContain('Included the DATA_DIR secret files: jwt-secret, encryption-key');
  });

  it('holds every row and the DATA_DIR secrets, and restores them into a DATA_DIR without a database', async () => {
    expect(mode(backupFile)).toBe(0o600);
    expect(parseHeader(readFileSync(backupFile))).toMatchObject({ kind: 'pglite', gzip: true });
    expect(before['public.users']).toHaveLength(2);
    expect(before['public.tasks']!.length).toBeGreaterThanOrEqual(5);
    expect(before['public.api_keys']).toHaveLength(1);
    expect(before['drizzle.__drizzle_migrations']!.length).toBeGreaterThan(10);

    const target = newDataDir();
    await restoreBackup({ file: backupFile, env: { DATA_DIR: target, BACKUP_KEY: KEY } });
    for (const name of ['jwt-secret', 'encryption-key']) {
      expect(readFileSync(path.join(target, name), 'utf8'), name).toBe(
        readFileSync(path.join(dataDir, name), 'utf8'),
      );
      expect(mode(path.join(target, name))).toBe(0o600);
    }
    expect(existsSync(path.join(target, 'taskman.lock'))).toBe(false);
    const [after, [row]] = await withDataDir(target, async (d) => [
      await snapshot(d),
      await rowsOf<{ secret: string }>(d, `select secret from webhooks where id = '${filled.webhook.id}'`),
    ]);
    expect(after).toEqual(before);
    // The sealed webhook secret opens with the restored key; the server serves the same sessions.
    const box = new SecretBox(readFileSync(path.join(target, 'encryption-key'), 'utf8').trim());
    expect(row!.secret).not.toContain(filled.webhook.secret);
    expect(box.open(row!.secret, `webhook:${filled.webhook.id}:secret`)).toBe(filled.webhook.secret);
    const core = await createCore(configFor(target));
    try {
      await expectServes(core, filled);
    } finally {
      await core.close();
    }
  });

  it('is encrypted: no plaintext in the file, which the key opens into the dump', async () => {
    const bytes = readFileSync(backupFile);
    for (const text of [TITLE, filled.ann.user.email, 'pgdata.tar', 'PG_VERSION'])
      expect(bytes.includes(Buffer.from(text)), text).toBe(false);
    const plain = path.join(work, 'embedded.plain');
    await verifyBackup({ file: backupFile, env: { BACKUP_KEY: KEY }, out: plain });
    const payload = readFileSync(plain);
    expect(payload.includes(Buffer.from(filled.ann.user.email))).toBe(true);
    expect(payload.includes(Buffer.from(TITLE))).toBe(true);
  });

  it('fails with one line on a wrong key or any damage, and leaves the target alone', async () => {
    const target = newDataDir();
    await expect(
      restoreBackup({ file: backupFile, env: { DATA_DIR: target, BACKUP_KEY: OTHER_KEY } }),
    ).rejects.toThrow(DECRYPT_FAILED);
    for (const [what, file] of Object.entries(damaged(backupFile, work))) {
      await expect(restoreBackup({ file, env: { DATA_DIR: target, BACKUP_KEY: KEY } }), what).rejects.toThrow(
        DECRYPT_FAILED,
      );
    }
    expect(untouched(target)).toBe(true);
  });

  it('refuses to restore into a DATA_DIR that has a database, changing nothing', async () => {
    const state = treeState(dataDir);
    await expect(
      restoreBackup({ file: backupFile, env: { DATA_DIR: dataDir, BACKUP_KEY: KEY } }),
    ).rejects.toThrow(/^restore refused: .* holds an embedded database already/);
    expect(treeState(dataDir)).toEqual(state);
  });

  it('without BACKUP_KEY or BACKUP_PASSPHRASE, encrypts with the embedded key, needed to restore', async () => {
    const file = path.join(work, 'embedded-key.tmbackup');
    const lines: string[] = [];
    await createBackup({ env: { DATA_DIR: dataDir }, out: file, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(
      `Encrypting with the embedded key ${path.join(dataDir, 'encryption-key')}`,
    );
    expect(lines.join('\n')).toContain('keep a copy of that file somewhere else');
    expect(parseHeader(readFileSync(file)).keySource).toBe('embedded');

    const target = newDataDir();
    await expect(restoreBackup({ file, env: { DATA_DIR: target } })).rejects.toThrow(
      /encrypted with the embedded key of the DATA_DIR it was made from: copy/,
    );
    expect(untouched(target)).toBe(true);
    mkdirSync(target);
    copyFileSync(path.join(dataDir, 'encryption-key'), path.join(target, 'encryption-key'));
    await restoreBackup({ file, env: { DATA_DIR: target } });
    // (The restored rows are compared in the first test; this one is about the key.)
    expect(existsSync(path.join(target, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(readFileSync(path.join(target, 'jwt-secret'), 'utf8')).toBe(
      readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8'),
    );
  });
});

// ---------------------------------------------------------------------------------------------

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const run = (program: string, args: string[]) =>
  collect(spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] }));

/** `npm run backup` / `npm run restore`: the same entry point, with a clean environment. */
const cli = (args: string[], env: Record<string, string | undefined>) =>
  collect(
    spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'packages/core/src/backup/backup.cli.ts'), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
