// Secrets at rest: webhook signing secrets (and CalDAV passwords) are stored sealed with the
// SecretBox (AES-256-GCM under ENCRYPTION_KEY, bound to their row and column), opened only to sign
// a delivery or to show a new secret to its owner; rows written in clear before keep working and
// are sealed by `npm run rotate-encryption-key`, which also moves every value from the previous
// keys (ENCRYPTION_KEY_PREVIOUS) to the current one. Deliveries go to real HTTP receivers and are
// verified with the `standardwebhooks` package; values are read raw from the database.
import { type ChildProcess, spawn } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  loadConfig,
  newWebhookSecret,
  openDatabase,
  secretBoxFor,
  startJobWorker,
  WebhookRepository,
} from '@taskman/core';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { SealedValueError, SecretBox } from '../../../packages/core/src/lib/encryption';
import { CalendarConnectionRepository } from '../../../packages/core/src/repositories/calendar-connection.repository';
import { installNewEmbeddedKey } from '../../../packages/core/src/secrets/key-files';
import { KeyRotationError, rotateEncryptionKey } from '../../../packages/core/src/secrets/key-rotation';
import { createTestApp, type TestApp, testDb } from './helpers/app';
import { signUp } from './helpers/client';
import { exitOf, ROOT, startApi } from './helpers/process';
import { type Received, type Receiver, startReceiver, verified } from './helpers/receiver';
import { query, until } from './helpers/wait';

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const KEY_C = randomBytes(32).toString('hex');
/** The key id, computed here as the README tells operators to: SHA-256 of the key's bytes, 8 hex. */
const kid = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 8);
const aad = (id: string, column: 'secret' | 'previous_secret') => `webhook:${id}:${column}`;

const API = '/api/v1/webhooks';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

async function setup(env: Record<string, string> = {}, shareDatabaseOf?: TestApp) {
  const t = await createTestApp({
    env: { WEBHOOK_ALLOW_PRIVATE: 'true', JOB_POLL_MS: '50', ENCRYPTION_KEY: KEY_A, ...env },
    ...(shareDatabaseOf ? { shareDatabaseOf } : {}),
  });
  cleanups.push(() => t.close());
  const owner = await signUp(t.app, { name: 'Ann' });
  const c = {
    t,
    owner,
    async hook(url: string): Promise<{ id: string; secret: string }> {
      const res = await owner.post(API, { url, events: ['task.created'] });
      expect(res.status, res.raw).toBe(201);
      return res.body.data;
    },
    async rotate(id: string, body: Record<string, unknown> = {}): Promise<string> {
      const res = await owner.post(`${API}/${id}/rotate-secret`, body);
      expect(res.status, res.raw).toBe(200);
      return res.body.data.secret;
    },
    /** Pings the webhook and returns the request the receiver got. */
    async ping(id: string, r: Receiver): Promise<Received> {
      const before = r.received.length;
      const res = await owner.post(`${API}/${id}/ping`);
      expect(res.status, res.raw).toBe(202);
      return (await r.waitFor(before + 1))[before]!;
    },
    /** The secret columns exactly as stored. */
    async raw(id: string): Promise<{ secret: string; previous_secret: string | null }> {
      const [row] = await query(t, sql`select secret, previous_secret from webhooks where id = ${id}`);
      return row;
    },
    startWorker() {
      const worker = startJobWorker(t.core);
      cleanups.push(() => worker.stop());
    },
  };
  return c;
}

/** Every sealed value in the database, as stored (to compare before and after a command). */
async function snapshot(t: TestApp) {
  return {
    webhooks: await query(t, sql`select id, secret, previous_secret from webhooks order by id`),
    calendar: await query(t, sql`select id, password_sealed from calendar_connections order by id`),
  };
}

/** A CalDAV connection row whose password is sealed with `box` (no CalDAV server needed to store one). */
async function insertConnection(t: TestApp, userId: string, box: SecretBox, password: string) {
  const id = crypto.randomUUID();
  await new CalendarConnectionRepository(t.core.database.db).insert({
    id,
    userId,
    serverUrl: 'https://dav.example.com/',
    calendarUrl: `https://dav.example.com/cal/${id}/`,
    displayName: null,
    username: 'ann',
    passwordSealed: box.seal(password, id),
  });
  return id;
}

/** A value in the first format ("v1.<nonce>.<tag>.<ciphertext>", no key id), as the first SecretBox sealed it. */
function sealV1(keyHex: string, plaintext: string, boundTo: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce);
  cipher.setAAD(Buffer.from(boundTo));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[nonce, cipher.getAuthTag(), body].map((b) => b.toString('base64url'))].join('.');
}

/** Flips one bit of one base64url part of a sealed value. */
function tamper(sealed: string, part: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0]! ^= 1;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  it('seals as v2.<key id>.<nonce>.<tag>.<ciphertext>; the key id is the SHA-256 of the key, 8 hex', () => {
    const box = new SecretBox(KEY_A);
    expect(box.keyId).toBe(kid(KEY_A));
    const sealed = box.seal('hunter2', 'row-1');
    const parts = sealed.split('.');
    expect(parts).toHaveLength(5);
    expect(parts.slice(0, 2)).toEqual(['v2', kid(KEY_A)]);
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('hunter2');
    expect(box.open(sealed, 'row-1')).toBe('hunter2');
    // A fresh nonce each time.
    expect(box.seal('hunter2', 'row-1')).not.toBe(sealed);
    expect(box.isCurrent(sealed)).toBe(true);
    expect(new SecretBox(KEY_B, [KEY_A]).isCurrent(sealed)).toBe(false);
  });

  it('opens v1 values (no key id) with the current key and with previous keys', () => {
    const v1 = sealV1(KEY_A, 'old password', 'row-1');
    expect(new SecretBox(KEY_A).open(v1, 'row-1')).toBe('old password');
    expect(new SecretBox(KEY_B, [KEY_C, KEY_A]).open(v1, 'row-1')).toBe('old password');
    expect(new SecretBox(KEY_B).isCurrent(v1)).toBe(false);
    expect(() => new SecretBox(KEY_B, [KEY_C]).open(v1, 'row-1')).toThrow(SealedValueError);
    expect(() => new SecretBox(KEY_A).open(v1, 'row-2')).toThrow(SealedValueError);
  });

  it('opens v2 values by their key id, previous keys included; an unknown key id is named', () => {
    const underA = new SecretBox(KEY_A).seal('s', 'x');
    expect(new SecretBox(KEY_B, [KEY_A]).open(underA, 'x')).toBe('s');
    expect(() => new SecretBox(KEY_B).open(underA, 'x')).toThrow(
      new RegExp(`unknown key \\(key id ${kid(KEY_A)}\\)`),
    );
    // Sealing always uses the current key, never a previous one.
    expect(new SecretBox(KEY_B, [KEY_A]).seal('s', 'x').split('.')[1]).toBe(kid(KEY_B));
    expect(new SecretBox(KEY_B, [KEY_A]).reseal(underA, 'x').split('.')[1]).toBe(kid(KEY_B));
  });

  it('refuses tampered values, another aad, truncated tags and things that are not sealed; never echoes them', () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.seal('top secret', 'webhook:1:secret');
    for (const part of [2, 3, 4]) expect(() => box.open(tamper(sealed, part), 'webhook:1:secret')).toThrow();
    expect(() => box.open(sealed, 'webhook:2:secret')).toThrow(SealedValueError);
    expect(() => box.open(sealed, 'webhook:1:previous_secret')).toThrow(SealedValueError);
    // Another key claiming the same key id does not help either.
    const forged = sealed.replace(/^v2\.[0-9a-f]{8}\./, `v2.${kid(KEY_B)}.`);
    expect(() => new SecretBox(KEY_B).open(forged, 'webhook:1:secret')).toThrow(SealedValueError);
    // A tag cut to 4 bytes is not accepted (GCM would otherwise check only those).
    const parts = sealed.split('.');
    parts[3] = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.open(parts.join('.'), 'webhook:1:secret')).toThrow();
    for (const bad of ['whsec_abc', 'v3.a.b.c.d', 'v2.a.b', '', sealed.slice(0, -3)]) {
      let message = '';
      try {
        box.open(bad, 'webhook:1:secret');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad).not.toBe('');
      if (bad) expect(message).not.toContain(bad);
    }
  });
});

describe('ENCRYPTION_KEY_PREVIOUS', () => {
  it('is a comma-separated list of 64-hex keys, for opening only; a bad one fails in one line naming it', () => {
    const config = loadConfig({ ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEY_PREVIOUS: ` ${KEY_A}, ${KEY_C} ` });
    expect(config.encryptionKeyPrevious).toEqual([KEY_A, KEY_C]);
    expect(loadConfig({}).encryptionKeyPrevious).toEqual([]);
    const box = secretBoxFor(config)!;
    expect(box.keyId).toBe(kid(KEY_B));
    expect(box.previousKeyIds).toEqual([kid(KEY_A), kid(KEY_C)]);
    for (const bad of [`${KEY_A},short-${KEY_C.slice(0, 20)}`, KEY_A.slice(1), `${KEY_A}zz`]) {
      let err: unknown;
      try {
        loadConfig({ ENCRYPTION_KEY_PREVIOUS: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).toContain('ENCRYPTION_KEY_PREVIOUS');
      expect(message.split('\n')).toHaveLength(1);
      expect(message).not.toContain(KEY_A.slice(1, 40));
    }
  });
});

describe('webhook secrets at rest', () => {
  it('a webhook created via the API is stored sealed, bound to its row and column; the secret is shown once, in clear', async () => {
    const c = await setup();
    const hook = await c.hook('http://127.0.0.1:9/hook');
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const raw = await c.raw(hook.id);
    expect(raw.secret.startsWith(`v2.${kid(KEY_A)}.`)).toBe(true);
    expect(raw.secret).not.toContain(hook.secret);
    expect(raw.secret).not.toContain(hook.secret.slice('whsec_'.length));
    expect(raw.secret).not.toContain('whsec_');
    expect(raw.previous_secret).toBeNull();
    // It is this secret, sealed with KEY_A for this row and column.
    expect(new SecretBox(KEY_A).open(raw.secret, aad(hook.id, 'secret'))).toBe(hook.secret);
    // Nothing else in the row holds it.
    const [row] = await query(
      c.t,
      sql`select row_to_json(w)::text as json from webhooks w where id = ${hook.id}`,
    );
    expect(row.json).not.toContain(hook.secret.slice('whsec_'.length));
  });

  it('deliveries are signed with the right secrets, before and after a rotation (the previous one sealed too)', async () => {
    const c = await setup();
    c.startWorker();
    const r = await receiver();
    const hook = await c.hook(r.url);
    expect(verified(hook.secret, await c.ping(hook.id, r)).type).toBe('ping');

    const s2 = await c.rotate(hook.id);
    expect(s2).not.toBe(hook.secret);
    const raw = await c.raw(hook.id);
    for (const v of [raw.secret, raw.previous_secret!]) {
      expect(v.startsWith(`v2.${kid(KEY_A)}.`)).toBe(true);
      expect(v).not.toContain(hook.secret.slice('whsec_'.length));
      expect(v).not.toContain(s2.slice('whsec_'.length));
    }
    const box = new SecretBox(KEY_A);
    expect(box.open(raw.secret, aad(hook.id, 'secret'))).toBe(s2);
    expect(box.open(raw.previous_secret!, aad(hook.id, 'previous_secret'))).toBe(hook.secret);
    // During the overlap both sign: a receiver on either secret accepts the delivery.
    const during = await c.ping(hook.id, r);
    expect(verified(s2, during).type).toBe('ping');
    expect(verified(hook.secret, during).type).toBe('ping');
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);

    // No overlap: the old one is gone from the row and from the signature.
    const s3 = await c.rotate(hook.id, { previous_secret_hours: 0 });
    expect((await c.raw(hook.id)).previous_secret).toBeNull();
    const after = await c.ping(hook.id, r);
    expect(verified(s3, after).type).toBe('ping');
    expect(() => verified(s2, after)).toThrow();
  });

  it('a ciphertext copied to another webhook row (or column) does not open; the failure names the webhook, not the value', async () => {
    const c = await setup({ JOB_BACKOFF_MS: '600000' });
    const r = await receiver();
    const one = await c.hook(r.url);
    const two = await c.hook(r.url);
    const sealedOne = (await c.raw(one.id)).secret;
    await query(c.t, sql`update webhooks set secret = ${sealedOne} where id = ${two.id}`);
    const repo = new WebhookRepository(c.t.core.database.db, new SecretBox(KEY_A));
    expect(repo.openSecret(one.id, 'secret', sealedOne)).toBe(one.secret);
    expect(() => repo.openSecret(two.id, 'secret', sealedOne)).toThrow(SealedValueError);
    expect(() => repo.openSecret(one.id, 'previous_secret', sealedOne)).toThrow(SealedValueError);

    // The delivery job fails (a server fault, retried later), and sends nothing.
    c.startWorker();
    await c.owner.post(`${API}/${two.id}/ping`);
    const [job] = await until('the send_webhook job to fail', async () => {
      const rows = await query(
        c.t,
        sql`select last_error from jobs where name = 'send_webhook' and last_error is not null`,
      );
      return rows.length ? rows : undefined;
    });
    expect(job.last_error).toContain(`webhooks.secret of webhook ${two.id}`);
    expect(job.last_error).not.toContain(sealedOne);
    expect(job.last_error).not.toContain(one.secret);
    expect(r.received).toHaveLength(0);

    // The rotation command refuses it too, naming the table and the row, changing nothing.
    const before = await snapshot(c.t);
    const err = await rotateEncryptionKey(c.t.core.database.db, new SecretBox(KEY_B, [KEY_A])).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeyRotationError);
    expect(err).toMatchObject({ table: 'webhooks', column: 'secret', rowId: two.id });
    expect((err as Error).message).not.toContain(sealedOne);
    expect(await snapshot(c.t)).toEqual(before);
  });

  it('a legacy row with the secret in clear still signs; a rotation or the rotation command seals it', async () => {
    const c = await setup();
    c.startWorker();
    const r = await receiver();
    // Written as before this change: the secret in clear.
    const legacy = newWebhookSecret();
    const created = await new WebhookRepository(c.t.core.database.db).insert({
      userId: c.owner.user.id,
      url: r.url,
      events: ['task.created'],
      secret: legacy,
    });
    expect((await c.raw(created.id)).secret).toBe(legacy);
    expect(verified(legacy, await c.ping(created.id, r)).type).toBe('ping');

    // A second legacy row, rotated through the API: the clear one moves to previous_secret, sealed.
    const legacy2 = newWebhookSecret();
    const other = await new WebhookRepository(c.t.core.database.db).insert({
      userId: c.owner.user.id,
      url: r.url,
      events: ['task.created'],
      secret: legacy2,
    });
    const fresh = await c.rotate(other.id);
    const rotated = await c.raw(other.id);
    expect(rotated.previous_secret!.startsWith(`v2.${kid(KEY_A)}.`)).toBe(true);
    expect(new SecretBox(KEY_A).open(rotated.previous_secret!, aad(other.id, 'previous_secret'))).toBe(
      legacy2,
    );
    const both = await c.ping(other.id, r);
    expect(verified(fresh, both).type).toBe('ping');
    expect(verified(legacy2, both).type).toBe('ping');

    // The command seals the remaining clear value (under the current key: no new key needed).
    const report = await rotateEncryptionKey(c.t.core.database.db, new SecretBox(KEY_A));
    expect(report.columns.find((x) => x.column === 'secret')).toMatchObject({
      values: 2,
      sealedFromClear: 1,
      current: 1,
      resealed: 0,
    });
    const sealed = (await c.raw(created.id)).secret;
    expect(sealed.startsWith(`v2.${kid(KEY_A)}.`)).toBe(true);
    expect(sealed).not.toContain(legacy.slice('whsec_'.length));
    expect(verified(legacy, await c.ping(created.id, r)).type).toBe('ping');
  });
});

describe('key rotation: npm run rotate-encryption-key', () => {
  /** An app with sealed values under KEY_A: webhooks (one rotated), a v1 CalDAV password, a legacy clear secret. */
  async function seeded() {
    const c = await setup();
    const r = await receiver();
    const h1 = await c.hook(r.url);
    const h2 = await c.hook(r.url);
    const h2new = await c.rotate(h2.id);
    const legacy = newWebhookSecret();
    const h3 = await new WebhookRepository(c.t.core.database.db).insert({
      userId: c.owner.user.id,
      url: r.url,
      events: ['task.created'],
      secret: legacy,
    });
    const conn = await insertConnection(c.t, c.owner.user.id, new SecretBox(KEY_A), 'caldav-pass');
    // A CalDAV password sealed by the first SecretBox (v1, no key id).
    const connV1 = crypto.randomUUID();
    await new CalendarConnectionRepository(c.t.core.database.db).insert({
      id: connV1,
      userId: c.owner.user.id,
      serverUrl: 'https://dav.example.com/',
      calendarUrl: 'https://dav.example.com/cal/v1/',
      displayName: null,
      username: 'ann',
      passwordSealed: sealV1(KEY_A, 'old-caldav-pass', connV1),
    });
    /** Every secret, in clear, as the box opens it (throws when one does not open). */
    const opened = async (box: SecretBox) => {
      const rows = await snapshot(c.t);
      const open = (v: string, boundTo: string) =>
        v.startsWith('whsec_') ? `clear:${v}` : box.open(v, boundTo);
      return {
        webhooks: rows.webhooks.map((w) => [
          w.id,
          open(w.secret, aad(w.id, 'secret')),
          w.previous_secret && open(w.previous_secret, aad(w.id, 'previous_secret')),
        ]),
        calendar: rows.calendar.map((x) => [x.id, open(x.password_sealed, x.id)]),
      };
    };
    const expected = {
      webhooks: [
        [h1.id, h1.secret, null],
        [h2.id, h2new, h2.secret],
        [h3.id, `clear:${legacy}`, null],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
      calendar: [
        [conn, 'caldav-pass'],
        [connV1, 'old-caldav-pass'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    };
    return { c, r, h1, h2, h2new, h3, legacy, opened, expected };
  }

  it('from key A to key B: before, values open with A; after, with B alone; a second run changes nothing', async () => {
    const s = await seeded();
    const db = s.c.t.core.database.db;
    expect(await s.opened(new SecretBox(KEY_A))).toEqual(s.expected);
    await expect(s.opened(new SecretBox(KEY_B))).rejects.toThrow(SealedValueError);

    // Small batches, so that several transactions are needed.
    const report = await rotateEncryptionKey(db, new SecretBox(KEY_B, [KEY_A]), { batchSize: 1 });
    expect(report.keyId).toBe(kid(KEY_B));
    expect(report.columns).toEqual([
      { table: 'webhooks', column: 'secret', values: 3, resealed: 2, sealedFromClear: 1, current: 0 },
      {
        table: 'webhooks',
        column: 'previous_secret',
        values: 1,
        resealed: 1,
        sealedFromClear: 0,
        current: 0,
      },
      {
        table: 'calendar_connections',
        column: 'password_sealed',
        values: 2,
        resealed: 2,
        sealedFromClear: 0,
        current: 0,
      },
    ]);
    expect(report.changed).toBe(6);

    const after = await snapshot(s.c.t);
    for (const v of [
      ...after.webhooks.flatMap((w) => [w.secret, w.previous_secret]).filter(Boolean),
      ...after.calendar.map((x) => x.password_sealed),
    ])
      expect(v.startsWith(`v2.${kid(KEY_B)}.`)).toBe(true);
    const sealedExpected = {
      ...s.expected,
      webhooks: s.expected.webhooks.map((w) => w.map((x) => (x?.startsWith('clear:') ? x.slice(6) : x))),
    };
    expect(await s.opened(new SecretBox(KEY_B))).toEqual(sealedExpected);
    await expect(s.opened(new SecretBox(KEY_A))).rejects.toThrow(/unknown key/);

    // Idempotent: nothing left to do, nothing written.
    const again = await rotateEncryptionKey(db, new SecretBox(KEY_B, [KEY_A]));
    expect(again.changed).toBe(0);
    expect(again.columns.map((x) => x.current)).toEqual([3, 1, 2]);
    expect(await snapshot(s.c.t)).toEqual(after);

    // A server on key B alone (the previous key dropped) signs with the same secrets.
    const b = await setup({ ENCRYPTION_KEY: KEY_B }, s.c.t);
    b.startWorker();
    const during = await s.c.ping(s.h2.id, s.r);
    expect(verified(s.h2new, during).type).toBe('ping');
    expect(verified(s.h2.secret, during).type).toBe('ping');
    expect(verified(s.legacy, await s.c.ping(s.h3.id, s.r)).type).toBe('ping');
  });

  it('a missing previous key: the command fails naming the row, and changes nothing (not even the clear value)', async () => {
    const s = await seeded();
    const before = await snapshot(s.c.t);
    const err = await rotateEncryptionKey(s.c.t.core.database.db, new SecretBox(KEY_B)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeyRotationError);
    const e = err as KeyRotationError;
    expect(e.table).toBe('webhooks');
    expect(e.column).toBe('secret');
    expect([s.h1.id, s.h2.id]).toContain(e.rowId);
    expect(e.message).toContain(`webhooks.secret of row ${e.rowId}`);
    expect(e.message).toContain(kid(KEY_A));
    for (const w of before.webhooks) {
      expect(e.message).not.toContain(w.secret);
    }
    expect(await snapshot(s.c.t)).toEqual(before);
    // A dry run with the right keys changes nothing either, and says what would change.
    const dry = await rotateEncryptionKey(s.c.t.core.database.db, new SecretBox(KEY_B, [KEY_A]), {
      dryRun: true,
    });
    expect(dry.changed).toBe(6);
    expect(await snapshot(s.c.t)).toEqual(before);
  });

  it.runIf(testDb === 'postgres')(
    'the CLI against PostgreSQL: rotates to the new key, prints counts; refuses (exit 1, the row named) without the old key',
    { timeout: 60_000 },
    async () => {
      const s = await seeded();
      const url = s.c.t.db.url!;
      const base = { DATABASE_URL: url, NODE_ENV: 'test', LOG_LEVEL: 'silent' };
      const before = await snapshot(s.c.t);

      const refused = await runCli({ ...base, ENCRYPTION_KEY: KEY_C, ENCRYPTION_KEY_PREVIOUS: KEY_B });
      expect(refused.code, refused.out).toBe(1);
      expect(refused.err).toMatch(/Key rotation failed: webhooks\.secret of row [0-9a-f-]{36} /);
      expect(await snapshot(s.c.t)).toEqual(before);

      const bad = await runCli({ ...base, ENCRYPTION_KEY: KEY_C, ENCRYPTION_KEY_PREVIOUS: 'abc' });
      expect(bad.code).toBe(78);
      expect(bad.err.trim().split('\n')).toEqual([expect.stringContaining('ENCRYPTION_KEY_PREVIOUS')]);

      const done = await runCli({
        ...base,
        ENCRYPTION_KEY: KEY_C,
        ENCRYPTION_KEY_PREVIOUS: `${KEY_B},${KEY_A}`,
      });
      expect(done.code, done.err).toBe(0);
      expect(done.out).toContain(
        'webhooks.secret: 3 value(s): 2 re-sealed, 1 sealed (stored in clear), 0 already',
      );
      expect(done.out).toContain('calendar_connections.password_sealed: 2 value(s): 2 re-sealed');
      expect(done.out).toContain(`Done: 6 value(s) changed; every sealed value is under key ${kid(KEY_C)}.`);
      expect(done.out).toContain('remove ENCRYPTION_KEY_PREVIOUS');
      const sealedExpected = {
        ...s.expected,
        webhooks: s.expected.webhooks.map((w) => w.map((x) => (x?.startsWith('clear:') ? x.slice(6) : x))),
      };
      expect(await s.opened(new SecretBox(KEY_C))).toEqual(sealedExpected);
    },
  );
});

/** Runs `npm run rotate-encryption-key` with exactly this environment. */
async function runCli(env: Record<string, string>, args: string[] = []) {
  const child: ChildProcess = spawn('npm', ['run', '--silent', 'rotate-encryption-key', '--', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const code = await exitOf(child);
  return { code, out, err };
}

describe.runIf(testDb === 'pglite')('key rotation in embedded mode (the key in DATA_DIR)', () => {
  it('--generate: refused while the server runs; then a new key, every value re-sealed, the old key removed; an interrupted rotation is finished', {
    timeout: 180_000,
  }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'taskman-keys-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const r = await receiver();
    const env = {
      DATA_DIR: dataDir,
      NODE_ENV: 'test',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'info',
      JOB_POLL_MS: '50',
      WEBHOOK_ALLOW_PRIVATE: 'true',
    };
    const keyFile = path.join(dataDir, 'encryption-key');
    const previousFile = path.join(dataDir, 'encryption-key.previous');
    const keyNow = () => readFileSync(keyFile, 'utf8').trim();
    /** The webhook's columns as stored (the server stopped: the database is one process's). */
    const stored = async (id: string) => {
      const database = await openDatabase({ dataDir });
      try {
        const result = (await database.db.execute(
          sql`select secret, previous_secret from webhooks where id = ${id}`,
        )) as unknown as { rows: { secret: string; previous_secret: string }[] };
        return result.rows[0]!;
      } finally {
        await database.close();
      }
    };
    const call = async (url: string, route: string, body: unknown, token?: string) => {
      const res = await fetch(`${url}/api/v1${route}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return (await res.json()) as any;
    };

    let api = await startApi(env);
    cleanups.push(() => api.stop());
    const session = await call(api.url, '/auth/register', {
      email: 'ann@example.com',
      password: 'correct horse',
      name: 'Ann',
    });
    const token = session.data.token as string;
    const hook = (await call(api.url, '/webhooks', { url: r.url, events: ['ping'] }, token)).data;
    const s2 = (await call(api.url, `/webhooks/${hook.id}/rotate-secret`, {}, token)).data.secret as string;
    const key1 = keyNow();

    // The server holds DATA_DIR: the command refuses, and the key stays.
    const refused = await runCli(env, ['--generate']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('stop the Taskman server first');
    expect(keyNow()).toBe(key1);

    expect(await api.stop()).toBe(0);
    const raw1 = await stored(hook.id);
    expect(raw1.secret.startsWith(`v2.${new SecretBox(key1).keyId}.`)).toBe(true);

    const generated = await runCli(env, ['--generate']);
    expect(generated.code, generated.err).toBe(0);
    const key2 = keyNow();
    expect(key2).toMatch(/^[0-9a-f]{64}$/);
    expect(key2).not.toBe(key1);
    expect(existsSync(previousFile)).toBe(false);
    expect(generated.out).toContain('webhooks.secret: 1 value(s): 1 re-sealed');
    expect(generated.out).toContain('webhooks.previous_secret: 1 value(s): 1 re-sealed');
    expect(generated.out).toContain('Removed encryption-key.previous');
    const raw2 = await stored(hook.id);
    const box2 = new SecretBox(key2);
    expect(raw2.secret.startsWith(`v2.${kid(key2)}.`)).toBe(true);
    expect(box2.open(raw2.secret, aad(hook.id, 'secret'))).toBe(s2);
    expect(box2.open(raw2.previous_secret, aad(hook.id, 'previous_secret'))).toBe(hook.secret);

    // Interrupted after the new key was written: the server starts and signs with both files' keys.
    installNewEmbeddedKey(dataDir);
    const key3 = keyNow();
    expect(readFileSync(previousFile, 'utf8').trim()).toBe(key2);
    api = await startApi(env);
    const ping = await call(api.url, `/webhooks/${hook.id}/ping`, {}, token);
    expect(ping.success, JSON.stringify(ping)).toBe(true);
    const [req] = await r.waitFor(1, 20_000);
    expect(verified(s2, req!).type).toBe('ping');
    expect(verified(hook.secret, req!).type).toBe('ping');
    expect(await api.stop()).toBe(0);

    // Running the command again finishes it: everything under the newest key, the old one gone.
    const finished = await runCli(env);
    expect(finished.code, finished.err).toBe(0);
    expect(existsSync(previousFile)).toBe(false);
    const raw3 = await stored(hook.id);
    expect(new SecretBox(key3).open(raw3.secret, aad(hook.id, 'secret'))).toBe(s2);
    expect(() => new SecretBox(key2).open(raw3.secret, aad(hook.id, 'secret'))).toThrow(SealedValueError);
  });
});
