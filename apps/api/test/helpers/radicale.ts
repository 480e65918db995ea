// A real CalDAV server for tests: Debian's Radicale on a free loopback port, with its own
// storage folder and a plain htpasswd file (user ann, password "secret").
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { until } from './wait';

export const RADICALE_BIN = '/usr/bin/radicale';
export const RADICALE_USER = { username: 'ann', password: 'secret' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Radicale {
  url: string;
  /** Basic auth header for ann. */
  auth: string;
  /** Creates a task calendar (VTODO only) for ann; returns its URL. */
  makeTaskCalendar(name: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startRadicale(): Promise<Radicale> {
  const dir = mkdtempSync(path.join(tmpdir(), 'radicale-'));
  writeFileSync(path.join(dir, 'users'), `${RADICALE_USER.username}:${RADICALE_USER.password}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const auth = `Basic ${Buffer.from(`${RADICALE_USER.username}:${RADICALE_USER.password}`).toString('base64')}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      RADICALE_BIN,
      [
        '--server-hosts',
        `127.0.0.1:${port}`,
        '--storage-filesystem-folder',
        path.join(dir, 'collections'),
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        path.join(dir, 'users'),
        '--auth-htpasswd-encryption',
        'plain',
        '--logging-level',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    await until('Radicale to answer', async () => {
      try {
        return (await fetch(url, { method: 'OPTIONS' })).status < 500;
      } catch {
        return false;
      }
    });
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  await start();

  return {
    url,
    auth,
    async makeTaskCalendar(name) {
      const calendarUrl = `${url}${RADICALE_USER.username}/${name}/`;
      const res = await fetch(calendarUrl, {
        method: 'MKCALENDAR',
        headers: { authorization: auth, 'content-type': 'application/xml' },
        body: `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>${name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`,
      });
      if (res.status !== 201) throw new Error(`MKCALENDAR: HTTP ${res.status}`);
      return calendarUrl;
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
