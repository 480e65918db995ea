// Prints the PostgreSQL statements and Redis commands each kind of request makes (one request each,
// in process). Usage: npx tsx bench/trace.ts [--cache=false]
import { createCore, loadConfig } from '@taskman/core';
import type { InjectOptions } from 'fastify';
import Redis from 'ioredis';
import pg from 'pg';
import { buildApp } from '../apps/api/src/app';
import { resetDatabase } from './lib/seed';

const cache = !process.argv.includes('--cache=false');
const log: string[] = [];
let on = false;
const q = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (on) {
    const a = args[0] as string | { text: string };
    log.push(`PG  ${(typeof a === 'string' ? a : a.text).replace(/\s+/g, ' ').slice(0, 220)}`);
  }
  return (q as (...a: unknown[]) => unknown).apply(this, args);
} as typeof q;
const send = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (
  this: Redis,
  cmd: { name: string; args: unknown[] },
  ...rest: unknown[]
) {
  if (on) log.push(`RDS ${cmd.name} ${String(cmd.args[0] ?? '').slice(0, 80)}`);
  return (send as (...a: unknown[]) => unknown).call(this, cmd, ...rest);
} as typeof send;

await resetDatabase('postgres://postgres@127.0.0.1:5432/postgres', 'taskman_trace');
const url = 'postgres://postgres@127.0.0.1:5432/taskman_trace';
const config = loadConfig({
  NODE_ENV: 'production',
  DATABASE_URL: url,
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: 'trace:',
  JWT_SECRET: 'trace-secret-trace-secret-trace-secret-0123456789',
  CACHE_ENABLED: String(cache),
  LOG_LEVEL: 'warn',
});
const core = await createCore(config);
const app = await buildApp({ core, logger: false, webAppDir: false });
const inject = async (label: string, opts: InjectOptions) => {
  log.length = 0;
  on = true;
  const res = await app.inject(opts);
  await new Promise((r) => setTimeout(r, 50));
  on = false;
  console.log(
    `\n== ${label}: ${res.statusCode}  (${log.filter((l) => l.startsWith('PG')).length} PG, ${log.filter((l) => l.startsWith('RDS')).length} Redis)`,
  );
  for (const l of log) console.log(`  ${l}`);
  return res;
};
const reg = await app.inject({
  method: 'POST',
  url: '/api/v1/auth/register',
  payload: { email: 'a@example.com', password: 'correct horse battery staple 9', name: 'A' },
});
const token = reg.json().data.token;
if (!token) throw new Error(`register: ${reg.statusCode} ${reg.body}`);
const headers = { authorization: `Bearer ${token}` };
const p = (
  await app.inject({ method: 'POST', url: '/api/v1/projects', headers, payload: { name: 'P' } })
).json().data;
const created = await inject('POST /tasks', {
  method: 'POST',
  url: '/api/v1/tasks',
  headers,
  payload: { title: 'x', tags: ['work'], project_id: p.id, priority: 'high' },
});
const id = created.json().data.id;
await inject('GET /tasks/:id (1st)', { method: 'GET', url: `/api/v1/tasks/${id}`, headers });
await inject('GET /tasks/:id (2nd)', { method: 'GET', url: `/api/v1/tasks/${id}`, headers });
await inject('PATCH priority', {
  method: 'PATCH',
  url: `/api/v1/tasks/${id}`,
  headers,
  payload: { priority: 'low' },
});
await inject('PATCH done', {
  method: 'PATCH',
  url: `/api/v1/tasks/${id}`,
  headers,
  payload: { status: 'done' },
});
await inject('GET list filtered', {
  method: 'GET',
  url: '/api/v1/tasks?status=todo,in_progress&priority=high,urgent&tag=work&sort=due_date&limit=20',
  headers,
});
await inject('GET list filtered again', {
  method: 'GET',
  url: '/api/v1/tasks?status=todo,in_progress&priority=high,urgent&tag=work&sort=due_date&limit=20',
  headers,
});
await inject('GET search', { method: 'GET', url: '/api/v1/tasks?q=x&limit=20', headers });
await app.close();
await core.close();
const r = new Redis('redis://127.0.0.1:6379');
const keys = await r.keys('trace:*');
if (keys.length) await r.del(...keys);
await r.quit();
