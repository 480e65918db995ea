// The benchmark's baseline: bare Fastify 5 + one `pg` Pool, one primary-key SELECT per request.
// No auth, no rate limiter, no cache, no response schema: the least a server can do to answer
// GET /tasks/:id from the same table. Run by bench/cached-get.ts as its own process.
import Fastify from 'fastify';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is required');
  process.exit(78);
}
const port = Number(process.env.PORT ?? 3100);
const host = process.env.HOST ?? '127.0.0.1';
// Same pool size as Taskman's default (DATABASE_POOL_MAX=10).
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.DATABASE_POOL_MAX ?? 10) });

const app = Fastify({ logger: false });

app.get<{ Params: { id: string } }>('/tasks/:id', async (request, reply) => {
  const { rows } = await pool.query('select * from tasks where id = $1', [request.params.id]);
  if (rows.length === 0) return reply.status(404).send({ error: 'not found' });
  return { data: rows[0] };
});

app.get('/health', async () => {
  await pool.query('select 1');
  return { status: 'ok' };
});

async function stop(): Promise<void> {
  await app.close();
  await pool.end();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

await app.listen({ port, host });
console.log(`baseline listening on http://${host}:${port}`);
