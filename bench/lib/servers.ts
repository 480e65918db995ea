// Starting and stopping the servers a benchmark measures, one child process each.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface Counts {
  http: number;
  pg: number;
  redis: number;
  /** CPU time (user + system) of the server process, in microseconds. */
  cpuMicros: number;
  /** The server's monotonic clock in µs (the clock of its --cpu-prof profile). */
  nowUs: number;
}

export interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  /** Requests served, PostgreSQL / Redis round trips and CPU time so far (bench/instrument.ts). */
  counts(): Promise<Counts>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every server still running. */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Whatever happens to the benchmark, the servers it started do not outlive it. */
export function killAllOnExit(): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `node --import tsx --import bench/instrument.ts <script>` with exactly `env` (plus PATH and
 * HOME), and waits until `readyPath` answers 200.
 */
export async function startServer(opts: {
  name: string;
  script: string;
  port: number;
  env: Record<string, string>;
  readyPath: string;
  /** Extra node options, e.g. --cpu-prof. */
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<Server> {
  const url = `http://127.0.0.1:${opts.port}`;
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--import', 'tsx', '--import', './bench/instrument.ts', opts.script],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  running.add(child);
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? (signal ? -1 : null));
    }),
  );
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        output.push(line);
        if (output.length > 200) output.shift();
        // Servers run at LOG_LEVEL=warn: anything they print is worth seeing.
        process.stderr.write(`  [${opts.name}] ${line}\n`);
      }
    });
  }

  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${opts.name} exited (${exitCode}) before it was ready:\n${output.join('\n')}`);
    }
    try {
      const res = await fetch(url + opts.readyPath);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${opts.name} was not ready after ${opts.timeoutMs ?? 60_000} ms:\n${output.join('\n')}`,
      );
    }
    await sleep(100);
  }

  return {
    name: opts.name,
    url,
    child,
    counts: () =>
      new Promise<Counts>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${opts.name} did not report its counts`)), 5_000);
        const onMessage = (message: unknown) => {
          const m = message as { type?: string; counts?: Counts };
          if (m?.type !== 'bench:counts' || !m.counts) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m.counts);
        };
        child.on('message', onMessage);
        child.send('bench:counts');
      }),
    async stop() {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), 15_000);
        }),
      ]);
      clearTimeout(timer);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
