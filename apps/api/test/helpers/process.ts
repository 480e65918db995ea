import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from './app';

export const ROOT = path.resolve(fileURLToPath(new URL('../../../..', import.meta.url)));

export interface RunningProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns a TypeScript entry point of the repository with a clean, explicit environment. */
export function spawnTs(entry: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  // One process (tsx as a loader in node), as `npm start` runs it: signals reach the app directly.
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Starts the API (`apps/api/src/main.ts`) on a free port and waits for its "running at" log line. */
export async function startApi(env: Record<string, string>): Promise<RunningProcess> {
  const child = spawnTs('apps/api/src/main.ts', { PORT: '0', HOST: '127.0.0.1', ...env });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /Taskman is running at (http:\/\/localhost:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`API exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exitOf(child);
    },
  };
}

/** Starts a job worker (`apps/worker/src/main.ts`) and waits for its "worker is running" log line. */
export async function startWorker(env: Record<string, string>): Promise<RunningProcess> {
  const child = spawnTs('apps/worker/src/main.ts', { LOG_FORMAT: 'json', ...env });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('Taskman worker is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    child,
    url: '',
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exitOf(child);
    },
  };
}

/** Two API processes on one fresh PostgreSQL database, for what must hold across processes. */
export interface ApiPair {
  a: RunningProcess;
  b: RunningProcess;
  /** The database's URL, e.g. to hold a lock from the test. */
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts A, then B (A migrates the database first), with `env` for both and `envA`/`envB` for
 * one of them. PostgreSQL only: embedded mode is one process by design.
 */
export async function startApiPair(
  env: Record<string, string> = {},
  envA: Record<string, string> = {},
  envB: Record<string, string> = {},
): Promise<ApiPair> {
  const db = await createTestDatabase();
  await db.database.close();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'taskman-pair-'));
  const common = {
    DATA_DIR: dataDir,
    DATABASE_URL: db.url!,
    JWT_SECRET: `pair-test-secret-${randomBytes(16).toString('hex')}`,
    // startApi waits for the "running at" line, logged at info.
    LOG_LEVEL: 'info',
    ...env,
  };
  const a = await startApi({ ...common, ...envA });
  const b = await startApi({ ...common, ...envB }).catch(async (err) => {
    await a.stop('SIGTERM');
    throw err;
  });
  return {
    a,
    b,
    databaseUrl: db.url!,
    async stop() {
      await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
