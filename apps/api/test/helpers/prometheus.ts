// A real Prometheus server (Debian's `prometheus` package) scraping test processes, and its
// `promtool`: the independent judges of what /metrics serves.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';
export const hasPrometheus = () => existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `promtool check metrics`: lints an exposition; resolves with its complaints, one per line (empty: none). */
export async function promtoolCheckMetrics(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL_BIN, ['check', 'metrics'], (err, stdout, stderr) => {
      // A lint complaint is an exit code; only a missing or broken promtool is an error here.
      if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
      else resolve(`${stdout}${stderr}`.trim());
    });
    child.stdin!.end(text);
  });
}

export async function promtool(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL_BIN, args);
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export interface Prometheus {
  url: string;
  /** An instant query's result vector. */
  query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Waits until every target has been scraped successfully at least `scrapes` more times. */
  scrapedAgain(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (host:port, with their metrics path and token) every 500 ms. */
export async function startPrometheus(
  targets: { job: string; address: string; token?: string }[],
): Promise<Prometheus> {
  const dir = await mkdtemp(path.join(tmpdir(), 'taskman-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '500ms', scrape_timeout: '400ms', evaluation_interval: '500ms' },
    scrape_configs: targets.map((t) => ({
      job_name: t.job,
      metrics_path: '/metrics',
      static_configs: [{ targets: [t.address] }],
      ...(t.token ? { authorization: { type: 'Bearer', credentials: t.token } } : {}),
    })),
  };
  // JSON is YAML.
  await writeFile(path.join(dir, 'prometheus.yml'), JSON.stringify(config));
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d) => {
    log += d;
  });
  child.stderr!.on('data', (d) => {
    log += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`prometheus did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const query = async (q: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: never[] } };
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result;
  };
  return {
    url,
    query,
    async scrapedAgain() {
      // `up` is written at every scrape; its timestamp moves past now once all have been scraped.
      const since = Date.now() / 1000;
      const until = Date.now() + 15_000;
      for (;;) {
        const res = await fetch(`${url}/api/v1/targets`);
        const body = (await res.json()) as {
          data: { activeTargets: { lastScrape: string; health: string; lastError: string }[] };
        };
        const targetsNow = body.data.activeTargets;
        if (
          targetsNow.length === targets.length &&
          targetsNow.every((t) => Date.parse(t.lastScrape) / 1000 > since && t.health === 'up')
        )
          return;
        if (Date.now() > until) throw new Error(`targets not scraped: ${JSON.stringify(targetsNow)}\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
