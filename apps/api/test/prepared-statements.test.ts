// Writes are named prepared statements on their connection (packages/core/src/db/client.ts). A
// migration that changes a column's type makes PostgreSQL refuse such a statement ("cached plan
// must not change result type"), and node-postgres would keep sending its name on that connection:
// the connection is dropped instead, so only the statement that met the change fails.
import { randomUUID } from 'node:crypto';
import { requestContext } from '@taskman/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, testDb } from './helpers/app';

describe.skipIf(testDb !== 'postgres')('prepared statements (PostgreSQL)', () => {
  let t: TestApp;
  let admin: pg.Client;
  const pool = () => (t.core.database.db as unknown as { $client: pg.Pool }).$client;
  const system = <T>(fn: () => Promise<T>) =>
    requestContext.run({ requestId: `prep-${randomUUID()}`, rowScope: 'system' }, fn);
  const INSERT = 'insert into prep_probe (id, v) values ($1, $2) returning v';

  beforeAll(async () => {
    t = await createTestApp();
    admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
    await admin.query('create table prep_probe (id int primary key, v int not null)');
    await admin.query('grant select, insert, update, delete on prep_probe to taskman_app');
  });

  afterAll(async () => {
    await admin?.end();
    await t?.close();
  });

  it('names a write once per connection, and drops the connection when a migration made it stale', async () => {
    const client = await system(() => pool().connect());
    const parsed = (client as unknown as { connection: { parsedStatements: Record<string, string> } })
      .connection.parsedStatements;
    try {
      await client.query(INSERT, [1, 10]);
      await client.query(INSERT, [2, 20]);
      expect(Object.values(parsed).filter((text) => text === INSERT)).toHaveLength(1);
      // A reader's statement is not named (planned for its values each time).
      const READ = 'select v from prep_probe where id = $1';
      await client.query(READ, [1]);
      expect(Object.values(parsed)).not.toContain(READ);

      await admin.query('alter table prep_probe alter column v type bigint');
      const err = await client.query(INSERT, [3, 30]).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      expect(err?.code).toBe('0A000');
      // The connection is gone: nothing more is sent on it.
      await new Promise((r) => setTimeout(r, 50));
      expect((client as unknown as { _queryable: boolean })._queryable).toBe(false);
    } finally {
      client.release();
    }
    // The same write on the pool's other (or new) connections works, with the new type.
    const res = await system(() => pool().query<{ v: string }>(INSERT, [4, 40]));
    expect(res.rows[0]!.v).toBe('40');
    const { rows } = await admin.query('select id from prep_probe order by id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 4]);
  });
});
