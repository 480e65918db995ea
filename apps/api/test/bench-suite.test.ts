// `npm run bench` (bench/suite.ts) takes minutes, so it is not part of `npm test` — but it runs here
// once at a tiny size (40 users, 4,000 tasks, half a second per scenario), so it cannot rot: every scenario and
// baseline must answer without an error and land in the results file with its ratio.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/process';

const SCENARIOS = [
  'get_task_cached',
  'get_task_uncached',
  'list_filtered',
  'list_deep_page',
  'search',
  'create_task',
  'update_task',
  'complete_task',
  'login',
  'mixed',
];
const BASELINES = ['node_http', 'fastify_bare', 'fastify_pg_select', 'fastify_pg_insert'];

describe('the benchmark suite at a tiny size', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs every scenario and baseline, and writes the results file', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'taskman-bench-'));
    const out = path.join(dir, 'latest.json');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/suite.ts',
        '--tiny',
        // Half a second per scenario: enough for every path to answer many times.
        '--seconds=0.5',
        '--warmup=0.25',
        `--out=${out}`,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: undefined, TEST_PHASE: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);
    const rows = JSON.parse(await readFile(out, 'utf8')) as {
      scenario: string;
      rps: number;
      p50_ms: number;
      p95_ms: number;
      p99_ms: number;
      errors: number;
      baseline: string | null;
      ratio: number | null;
    }[];
    expect(rows.map((r) => r.scenario).sort()).toEqual([...SCENARIOS, ...BASELINES].sort());
    for (const r of rows) {
      expect(r.errors, `${r.scenario}: errors`).toBe(0);
      expect(r.rps, `${r.scenario}: req/s`).toBeGreaterThan(0);
      expect(r.p50_ms).toBeLessThanOrEqual(r.p95_ms);
      expect(r.p95_ms).toBeLessThanOrEqual(r.p99_ms);
      if (r.baseline) {
        expect(BASELINES).toContain(r.baseline);
        expect(r.ratio).toBeCloseTo(r.rps / rows.find((b) => b.scenario === r.baseline)!.rps, 6);
      } else expect(r.ratio).toBeNull();
    }
    // The printed table names every scenario too.
    for (const name of [...SCENARIOS, ...BASELINES]) expect(output).toContain(`| ${name}`);
  }, 300_000);
});
