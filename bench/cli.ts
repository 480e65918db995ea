// How fast `taskman` answers: wall time of whole commands, as a person at a terminal sees it.
//   npx tsx bench/cli.ts [--runs=30]
// Rows: bare `node -e ''` (Node's own start, the floor), `taskman --version`, `taskman --help`, and
// `taskman list` / `taskman add …` against an embedded server on this machine (a fresh DATA_DIR).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const BUNDLE = path.join(ROOT, 'apps/cli/dist/taskman.mjs');
const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 30);

function time(args: string[], env: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const row = (label: string, xs: number[]) =>
  `| ${label.padEnd(44)} | ${pct(xs, 50).toFixed(0).padStart(5)} | ${pct(xs, 95).toFixed(0).padStart(5)} | ${xs.at(-1)!.toFixed(0).padStart(5)} |`;

async function startServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'apps/api/src/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dataDir,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_SECRET: randomBytes(24).toString('hex'),
      RATE_LIMIT_MAX: '100000',
      AUTH_RATE_LIMIT_MAX: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      log += d;
      const m = /Taskman is running at (http:\/\/localhost:\d+)/.exec(log);
      if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { url, child };
}

execFileSync(process.execPath, [path.join(ROOT, 'apps/cli/build.mjs')]);
const dataDir = mkdtempSync(path.join(tmpdir(), 'taskman-bench-cli-'));
const { url, child } = await startServer(dataDir);
try {
  const reg = await fetch(`${url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password: 'correct horse battery', name: 'Bench' }),
  });
  const token = ((await reg.json()) as { data: { token: string } }).data.token;
  const env = { TASKMAN_API_URL: url, TASKMAN_TOKEN: token, XDG_CONFIG_HOME: dataDir, NO_COLOR: '1' };
  for (let i = 0; i < 50; i++)
    spawnSync(process.execPath, [BUNDLE, 'add', `Task ${i} tomorrow !high #bench`], {
      env: { ...process.env, ...env },
    });
  const results = [
    row("node -e '' (Node's start: the floor)", time(['-e', ''])),
    row('taskman --version', time([BUNDLE, '--version'])),
    row('taskman --help', time([BUNDLE, '--help'])),
    row('taskman list (50 tasks; 3 requests)', time([BUNDLE, 'list'], env)),
    row(
      'taskman add "Call mom tomorrow 5pm !high"',
      time([BUNDLE, 'add', 'Call mom tomorrow 5pm !high'], env),
    ),
  ];
  console.log(
    `\n${runs} runs each, wall time in ms (load average ${(await import('node:os')).loadavg()[0]!.toFixed(2)})\n`,
  );
  console.log(`| ${'command'.padEnd(44)} |   p50 |   p95 |   max |`);
  console.log(`| ${'-'.repeat(44)} | ----: | ----: | ----: |`);
  for (const r of results) console.log(r);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
