import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { signUp } from './helpers/client';

describe('expired revocations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('are purged, while revocations of live tokens stay', async () => {
    const ann = await signUp(t.app);
    const bob = await signUp(t.app);
    expect((await ann.post('/api/v1/auth/logout')).status).toBe(204);
    expect((await bob.post('/api/v1/auth/logout')).status).toBe(204);
    // Ann's token "expired" an hour ago.
    await t.core.database.db.execute(
      sql`update revoked_tokens set expires_at = now() - interval '1 hour' where user_id = ${ann.user.id}`,
    );
    expect(await t.core.services.auth.purgeExpiredRevocations()).toBe(1);
    const left = (await t.core.database.db.execute(sql`select user_id from revoked_tokens`)) as unknown as {
      rows: { user_id: string }[];
    };
    expect(left.rows.map((r) => r.user_id)).toEqual([bob.user.id]);
    expect((await bob.get('/api/v1/users/me')).status).toBe(401);
  });
});
