import type { SQL } from 'drizzle-orm';
import type { TestApp } from './app';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something truthy (then returns it), or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Rows of a raw SQL query on a test app's database. */
export async function query<T = any>(t: TestApp, q: SQL): Promise<T[]> {
  return ((await t.core.database.db.execute(q)) as unknown as { rows: T[] }).rows;
}
