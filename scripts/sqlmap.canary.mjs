// A deliberately injectable endpoint for scripts/sqlmap.sh to scan first: if sqlmap does not find
// this injection, the scan (or the way its output is read) is broken, and a clean result on the
// real API would prove nothing. GET /canary?q=… concatenates q into SQL, on its own table.
// Usage: node scripts/sqlmap.canary.mjs <postgres-url> <port>
import http from 'node:http';
import pg from 'pg';

const [url, port] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 4 });
await pool.query('create table if not exists sqlmap_canary (id serial primary key, title text)');
await pool.query("insert into sqlmap_canary (title) values ('milk'), ('bread'), ('eggs')");

http
  .createServer(async (req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('q') ?? '';
    try {
      // The bug, on purpose: the parameter is pasted into the query.
      const { rows } = await pool.query(
        `select id, title from sqlmap_canary where title = '${q}' order by id`,
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows));
    } catch {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"failed"}');
    }
  })
  .listen(Number(port), '127.0.0.1', () => console.log(`canary listening on ${port}`));
