// The web app behind a CDN: hashed files under /assets/ cached for a year (immutable), everything
// else (the page at / and at client-side routes, sw.js, the manifest) revalidated by its ETag; the
// build's precompressed .br and .gz copies sent by Accept-Encoding, with Vary; no way out of the
// build's directory. On a small build written here (so it does not depend on `npm run build:web`),
// over a real socket (so no client normalizes the paths); then the real build's file names.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPRESSIBLE, MIN_BYTES } from '../../web/precompress';
import { WEB_APP_CSP } from '../src/plugins/security';
import { IMMUTABLE, preferredEncoding, REVALIDATE, WEB_DIST } from '../src/plugins/web-app';
import { createTestApp, type TestApp } from './helpers/app';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One GET with exactly this path and these headers, the body as received (not decompressed). */
function get(port: number, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The body decoded by its Content-Encoding. */
function decoded(res: Answer): Buffer {
  const encoding = res.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(res.body);
  if (encoding === 'gzip') return gunzipSync(res.body);
  expect(encoding).toBeUndefined();
  return res.body;
}

const varies = (res: Answer) =>
  String(res.headers.vary ?? '')
    .toLowerCase()
    .split(/\s*,\s*/)
    .includes('accept-encoding');

const SECRET = 'DO-NOT-SERVE-0f3c9a';
const page = { accept: 'text/html,application/xhtml+xml' };

describe('web app files for a CDN: compression, cache headers, revalidation', () => {
  let top: string;
  let t: TestApp;
  let port: number;
  // Text large enough to be worth compressing, as the build's would be.
  const js = Buffer.from('export const greet = (name) => "Hello, " + name;\n'.repeat(200));
  const css = Buffer.from('.task { color: #4f46e5; margin: 4px 8px; }\n'.repeat(100));
  const sw = Buffer.from('self.addEventListener("fetch", () => {});\n'.repeat(50));
  const html = Buffer.from(
    `<!doctype html><html><head><title>Taskman</title><script type="module" src="/assets/app-Bx1yZ9aQ.js"></script></head><body><div id="root"></div>${'<!-- padding -->'.repeat(100)}</body></html>`,
  );
  /** A file and its build's copies. */
  async function put(file: string, body: Buffer, copies: ('br' | 'gz')[] = ['br', 'gz']) {
    await writeFile(file, body);
    if (copies.includes('br')) await writeFile(`${file}.br`, brotliCompressSync(body));
    if (copies.includes('gz')) await writeFile(`${file}.gz`, gzipSync(body));
  }

  beforeAll(async () => {
    // top/dist is the build; top/package.json is what a traversal would be after.
    top = await mkdtemp(path.join(tmpdir(), 'taskman-web-'));
    const dist = path.join(top, 'dist');
    await mkdir(path.join(dist, 'assets'), { recursive: true });
    for (const dir of [top, dist])
      await put(path.join(dir, 'package.json'), Buffer.from(`{"name":"${SECRET}"}`), ['br', 'gz']);
    await put(path.join(dist, 'index.html'), html);
    await put(path.join(dist, 'assets/app-Bx1yZ9aQ.js'), js);
    // A build without a brotli copy of this one: gzip or the file itself.
    await put(path.join(dist, 'assets/index-C7uTr2Lp.css'), css, ['gz']);
    await put(path.join(dist, 'sw.js'), sw);
    await put(path.join(dist, 'manifest.webmanifest'), Buffer.from('{"name":"Taskman"}'), []);
    t = await createTestApp({ webAppDir: `${dist}/` });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
    await rm(top, { recursive: true, force: true });
  });

  it('sends brotli when accepted, else gzip, else the file itself; always with Vary: Accept-Encoding', async () => {
    for (const [url, original] of [
      ['/assets/app-Bx1yZ9aQ.js', js],
      ['/sw.js', sw],
      ['/', html],
      ['/today', html],
    ] as const) {
      for (const [accept, expected] of [
        ['br, gzip', 'br'],
        ['gzip, deflate, br, zstd', 'br'],
        ['gzip', 'gzip'],
        ['gzip;q=1, br;q=0.5', 'gzip'],
        ['br;q=0, gzip', 'gzip'],
        ['identity', undefined],
        [undefined, undefined],
      ] as const) {
        const res = await get(port, url, { ...page, ...(accept ? { 'accept-encoding': accept } : {}) });
        const what = `${url} with ${accept}`;
        expect(res.status, what).toBe(200);
        expect(res.headers['content-encoding'], what).toBe(expected);
        expect(decoded(res).equals(original), what).toBe(true);
        expect(varies(res), what).toBe(true);
        if (expected) expect(res.body.length, what).toBeLessThan(original.length);
        expect(res.headers['content-length'], what).toBe(String(res.body.length));
      }
    }
    // The type is the file's, not the copy's.
    const br = await get(port, '/assets/app-Bx1yZ9aQ.js', { 'accept-encoding': 'br' });
    expect(br.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    const index = await get(port, '/', { ...page, 'accept-encoding': 'br' });
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('without a .br copy, falls back to gzip or to the file itself', async () => {
    const url = '/assets/index-C7uTr2Lp.css';
    const gz = await get(port, url, { 'accept-encoding': 'br, gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(decoded(gz).equals(css)).toBe(true);
    const plain = await get(port, url, { 'accept-encoding': 'br' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(css)).toBe(true);
    expect(varies(plain)).toBe(true);
    expect(plain.headers['content-type']).toMatch(/^text\/css/);
    // A file with no copy at all.
    const manifest = await get(port, '/manifest.webmanifest', { 'accept-encoding': 'br, gzip' });
    expect(manifest.status).toBe(200);
    expect(manifest.headers['content-encoding']).toBeUndefined();
    expect(manifest.body.toString()).toBe('{"name":"Taskman"}');
  });

  it('/assets/ is cached for a year, immutable; the rest revalidates, with the app policy', async () => {
    for (const encoding of ['br', 'gzip', 'identity']) {
      for (const url of ['/assets/app-Bx1yZ9aQ.js', '/assets/index-C7uTr2Lp.css']) {
        const res = await get(port, url, { 'accept-encoding': encoding });
        expect(res.headers['cache-control'], url).toBe(IMMUTABLE);
        expect(res.headers['content-security-policy'], url).toBe(WEB_APP_CSP);
      }
      for (const url of ['/', '/today', '/projects/abc', '/index.html', '/sw.js', '/manifest.webmanifest']) {
        const res = await get(port, url, { ...page, 'accept-encoding': encoding });
        expect(res.status, url).toBe(200);
        expect(res.headers['cache-control'], url).toBe(REVALIDATE);
        expect(res.headers.etag, url).toBeTruthy();
        expect(res.headers['content-security-policy'], url).toBe(WEB_APP_CSP);
      }
    }
  });

  it('a request with the ETag it has gets 304 with no body, for the page and for the files', async () => {
    for (const url of ['/', '/today', '/sw.js', '/assets/app-Bx1yZ9aQ.js']) {
      for (const encoding of ['br', 'gzip', 'identity']) {
        const what = `${url} in ${encoding}`;
        const headers = { ...page, 'accept-encoding': encoding };
        const first = await get(port, url, headers);
        expect(first.status, what).toBe(200);
        const etag = first.headers.etag!;
        expect(etag, what).toBeTruthy();
        const again = await get(port, url, { ...headers, 'if-none-match': etag });
        expect(again.status, what).toBe(304);
        expect(again.body.length, what).toBe(0);
        expect(again.headers.etag, what).toBe(etag);
        expect(again.headers['cache-control'], what).toBe(first.headers['cache-control']);
        expect(varies(again), what).toBe(true);
        // Another tag: the whole response.
        const changed = await get(port, url, { ...headers, 'if-none-match': '"something-else"' });
        expect(changed.status, what).toBe(200);
      }
    }
    // The page's tag is weak (one page, whichever coding), so a proxy's W/ changes nothing.
    const { headers } = await get(port, '/', page);
    expect(headers.etag).toMatch(/^W\/"[\w-]+"$/);
    expect((await get(port, '/today', { ...page, 'if-none-match': `"x", ${headers.etag}` })).status).toBe(
      304,
    );
  });

  it('a path out of the build directory gets 404 and nothing of the file', async () => {
    const attempts = [
      '/assets/../../package.json',
      '/assets/../package.json',
      '/../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/%2E%2E/%2E%2E/package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/..%2F..%2Fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/%252e%252e/%252e%252e/package.json',
      '/%2e%2e/package.json',
      '//package.json',
      '/assets//../../package.json',
    ];
    for (const url of attempts) {
      for (const encoding of ['br, gzip', 'gzip', 'identity']) {
        const res = await get(port, url, { ...page, 'accept-encoding': encoding });
        expect(res.status, url).toBe(404);
        expect(res.headers['content-encoding'], url).toBeUndefined();
        expect(res.body.toString(), url).not.toContain(SECRET);
        expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      }
    }
    // The build's own package.json is a file of the build: served as one.
    expect((await get(port, '/package.json')).body.toString()).toContain(SECRET);
  });

  // The same negotiator as @fastify/static (@fastify/accept-negotiator): the page and the files agree.
  it('reads Accept-Encoding as @fastify/static does', () => {
    expect(preferredEncoding(undefined)).toBeUndefined();
    expect(preferredEncoding('')).toBeUndefined();
    expect(preferredEncoding('deflate, zstd')).toBeUndefined();
    expect(preferredEncoding('gzip, br')).toBe('br');
    expect(preferredEncoding('br;q=0.8, gzip;q=0.9')).toBe('gzip');
    expect(preferredEncoding('br;q=0.5, gzip;q=0.5')).toBe('br');
    expect(preferredEncoding('br;q=0, gzip;q=0')).toBeUndefined();
    expect(preferredEncoding('*')).toBe('br');
  });
});

describe('the real build (apps/web/dist): hashed, precompressed', () => {
  const assets = path.join(WEB_DIST, 'assets');
  const built = existsSync(path.join(WEB_DIST, 'index.html'));
  if (!built) console.warn(`skipped: ${WEB_DIST} is not built (npm run build:web)`);

  it.skipIf(!built)('every file under assets/ is named by its hash, with .br and .gz copies', async () => {
    const files = (await readdir(assets)).filter((f) => !/\.(br|gz)$/.test(f));
    expect(files.some((f) => /^index-.*\.js$/.test(f))).toBe(true);
    for (const name of files) {
      // name-<8 characters of hash>.ext, as Vite names them (index-B14S0yKL.js, its .map).
      expect(name).toMatch(/-[\w-]{8}\.[a-z]+(\.map)?$/);
      const file = path.join(assets, name);
      const raw = await readFile(file);
      if (!COMPRESSIBLE.test(name) || raw.length <= MIN_BYTES) continue;
      for (const [ext, decode] of [
        ['.br', brotliDecompressSync],
        ['.gz', gunzipSync],
      ] as const) {
        expect(existsSync(file + ext), name + ext).toBe(true);
        expect(decode(await readFile(file + ext)).equals(raw), name + ext).toBe(true);
      }
    }
  });

  it.skipIf(!built)(
    'outside assets/, the files that keep their names (revalidated) are compressed too',
    async () => {
      for (const name of (await readdir(WEB_DIST)).filter((f) => COMPRESSIBLE.test(f))) {
        const file = path.join(WEB_DIST, name);
        if ((await stat(file)).size <= MIN_BYTES) {
          expect(existsSync(`${file}.gz`), name).toBe(false);
          continue;
        }
        expect(gunzipSync(await readFile(`${file}.gz`)).equals(await readFile(file)), name).toBe(true);
        expect(existsSync(`${file}.br`), name).toBe(true);
      }
      expect(existsSync(path.join(WEB_DIST, 'sw.js.br'))).toBe(true);
    },
  );

  it.skipIf(!built)(
    'served: the page names its hashed bundle, which comes in brotli, immutable',
    async () => {
      const t = await createTestApp({ webAppDir: WEB_DIST });
      try {
        const index = await t.app.inject({ url: '/', headers: { ...page, 'accept-encoding': 'br' } });
        expect(index.headers['content-encoding']).toBe('br');
        expect(index.headers['cache-control']).toBe(REVALIDATE);
        const html = brotliDecompressSync(index.rawPayload).toString();
        const bundle = /<script type="module" crossorigin src="(\/assets\/index-[\w-]{8}\.js)"/.exec(
          html,
        )?.[1];
        expect(bundle, html).toBeTruthy();
        const js = await t.app.inject({ url: bundle!, headers: { 'accept-encoding': 'gzip, deflate, br' } });
        expect(js.statusCode).toBe(200);
        expect(js.headers['content-encoding']).toBe('br');
        expect(js.headers['cache-control']).toBe(IMMUTABLE);
        expect(String(js.headers.vary).toLowerCase()).toContain('accept-encoding');
        expect(brotliDecompressSync(js.rawPayload).equals(await readFile(path.join(WEB_DIST, bundle!)))).toBe(
          true,
        );
        for (const url of ['/sw.js', '/manifest.webmanifest']) {
          const res = await t.app.inject({ url, headers: { 'accept-encoding': 'br' } });
          expect(res.statusCode, url).toBe(200);
          expect(res.headers['cache-control'], url).toBe(REVALIDATE);
          expect(res.headers.etag, url).toBeTruthy();
        }
      } finally {
        await t.close();
      }
    },
  );
});
