// The baselines of `npm run bench` (bench/suite.ts), each its own process, chosen by BASELINE:
//   node_http          a bare node:http server answering a small JSON body
//   fastify_bare       Fastify 5 answering the same body
//   fastify_pg_select  Fastify 5 + one pg Pool: GET /tasks/:id, one primary-key SELECT
//   fastify_pg_insert  Fastify 5 + one pg Pool: POST /tasks, one INSERT … RETURNING of a task row
// No auth, rate limiter, cache or response schema: the least a server does to answer the same request.
import http from 'node:http';
import Fastify from 'fastify';
import pg from 'pg';
import { v7 } from 'uuid';

const mode = process.env.BASELINE ?? 'fastify_pg_select';
const port = Number(process.env.PORT ?? 3100);
const host = '127.0.0.1';
const BODY = JSON.stringify({ data: { ok: true } });

if (mode === 'node_http') {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  server.keepAliveTimeout = 72_000;
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  server.listen(port, host);
} else {
  const app = Fastify({ logger: false, keepAliveTimeout: 72_000 });
  // Taskman's default pool size (DATABASE_POOL_MAX=10).
  const pool = process.env.DATABASE_URL
    ? new pg.Pool({
        connectionString: process.env.DATABASE_URL,
        max: Number(process.env.DATABASE_POOL_MAX ?? 10),
      })
    : undefined;
  app.get('/hello', async () => ({ data: { ok: true } }));
  app.get('/health', async () => ({ status: 'ok' }));
  if (pool) {
    app.get<{ Params: { id: string } }>('/tasks/:id', async (request, reply) => {
      const { rows } = await pool.query('select * from tasks where id = $1', [request.params.id]);
      if (rows.length === 0) return reply.status(404).send({ error: 'not found' });
      return { data: rows[0] };
    });
    const userId = process.env.BASELINE_USER_ID;
    app.post<{ Body: { title: string; priority?: string } }>('/tasks', async (request, reply) => {
      const { rows } = await pool.query(
        `insert into tasks (id, user_id, title, priority) values ($1, $2, $3, coalesce($4, 'medium')::task_priority)
         returning *`,
        [v7(), userId, request.body.title, request.body.priority ?? null],
      );
      return reply.status(201).send({ data: rows[0] });
    });
  }
  process.once('SIGTERM', () => {
    void app.close().then(async () => {
      await pool?.end();
      process.exit(0);
    });
  });
  await app.listen({ port, host });
}
