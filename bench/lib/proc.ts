// CPU time of every process on the machine (Linux /proc), to see where the cores went during a run.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ (`getconf CLK_TCK`) on Linux

export type CpuSnapshot = { at: number; machineBusy: number; machineTotal: number; procs: Map<number, Proc> };
interface Proc {
  comm: string;
  ticks: number;
  /** For a PostgreSQL backend: the database it serves. */
  database?: string | undefined;
}

// "postgres: 15/main: <user> <database> <host>(<port>) <activity>"; background processes differ.
const BACKEND = /^postgres: [^:]+: \S+ (\S+) (?:[\d.]+|\[[\d:a-f]+\]|\[local\])/;

/** Undefined where /proc is missing (not Linux). */
export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = fields[3]! + fields[4]!; // idle + iowait
    const procs = new Map<number, Proc>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const comm = stat.slice(stat.indexOf('(') + 1, close);
        const rest = stat.slice(close + 2).split(' ');
        const database =
          comm === 'postgres'
            ? BACKEND.exec(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' '))?.[1]
            : undefined;
        procs.set(Number(entry), { comm, ticks: Number(rest[11]) + Number(rest[12]), database });
      } catch {
        // the process ended meanwhile
      }
    }
    return { at: performance.now(), machineBusy: total - idle, machineTotal: total, procs };
  } catch {
    return undefined;
  }
}

export interface CoresBusy {
  server: number;
  loadGenerator: number;
  /** PostgreSQL: the backends serving `database`, and the server's background processes. */
  postgres: number;
  /** Redis (shared: it also serves other clients, if any are busy). */
  redis: number;
  /** Everything else: the whole machine's busy time less the above (so processes that ended count). */
  other: number;
  /** The busiest of the other processes, e.g. "node 0.92, postgres: checkpointer 0.01". */
  otherTop: string;
  /** The whole machine, kernel included: at most the number of cores. */
  machine: number;
}

/** Cores busy between two snapshots, by who used them. */
export function coresBusy(
  a: CpuSnapshot | undefined,
  b: CpuSnapshot | undefined,
  serverPid: number,
  cores: number,
  database: string,
): CoresBusy | undefined {
  if (!a || !b) return undefined;
  const seconds = (b.at - a.at) / 1000;
  const out: CoresBusy = {
    server: 0,
    loadGenerator: 0,
    postgres: 0,
    redis: 0,
    other: 0,
    otherTop: '',
    machine: 0,
  };
  const others = new Map<string, number>();
  for (const [pid, p] of b.procs) {
    const ticks = p.ticks - (a.procs.get(pid)?.ticks ?? 0);
    const used = ticks / TICKS_PER_SECOND / seconds;
    if (pid === serverPid) out.server += used;
    else if (pid === process.pid) out.loadGenerator += used;
    else if (p.comm === 'postgres' && (p.database === undefined || p.database === database))
      out.postgres += used;
    else if (p.comm.startsWith('redis-server')) out.redis += used;
    else {
      const name = p.database ? `postgres (${p.database})` : p.comm;
      others.set(name, (others.get(name) ?? 0) + used);
    }
  }
  out.otherTop = [...others]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 3)
    .filter(([, c]) => c >= 0.01)
    .map(([comm, c]) => `${comm} ${c.toFixed(2)}`)
    .join(', ');
  out.machine = ((b.machineBusy - a.machineBusy) / (b.machineTotal - a.machineTotal)) * cores;
  out.other = Math.max(0, out.machine - out.server - out.loadGenerator - out.postgres - out.redis);
  return out;
}
