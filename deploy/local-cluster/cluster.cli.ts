// deploy/local-cluster/up and down: see cluster.ts and README "Running in production".
import path from 'node:path';
import { LocalCluster, REPO } from './cluster';

const USAGE = `usage: deploy/local-cluster/up [--dir DIR] [--port HTTPS_PORT]
       deploy/local-cluster/down [--dir DIR] [--purge]
DIR defaults to .local-cluster in the repository; the HTTPS port to 8443 (the other parts use the
ports after it: PostgreSQL primary +1, replica +2, Redis +3, API processes +10.., worker metrics +20..).`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const dir = path.resolve(option(args, '--dir') ?? path.join(REPO, '.local-cluster'));
  const log = (line: string) => console.log(`[local-cluster] ${line}`);
  if (command === 'up') {
    const port = option(args, '--port');
    if (port !== undefined && !/^\d+$/.test(port)) throw new Error('--port must be a number');
    const cluster = await LocalCluster.up({ dir, ...(port ? { basePort: Number(port) } : {}), log });
    console.log(`
Taskman is running at ${cluster.url}
  nginx (TLS 1.3, self-signed: ${path.join(dir, 'tls/cert.pem')}) → API processes on ${cluster.ports.apis.join(', ')}
  PostgreSQL primary :${cluster.ports.primary}, streaming replica :${cluster.ports.replica}, Redis :${cluster.ports.redis}
  workers: ${cluster.workerNames.length} (metrics on ${cluster.ports.workerMetrics.join(', ')})
  logs: ${path.join(dir, 'logs')}
Stop it with deploy/local-cluster/down${dir === path.join(REPO, '.local-cluster') ? '' : ` --dir ${dir}`}`);
  } else if (command === 'down') {
    let cluster: LocalCluster;
    try {
      cluster = LocalCluster.load(dir, log);
    } catch {
      console.log(`[local-cluster] nothing to stop in ${dir}`);
      return;
    }
    await cluster.down({ purge: args.includes('--purge') });
    log(
      args.includes('--purge')
        ? `stopped; ${dir} deleted`
        : `stopped (data kept in ${dir}; --purge deletes it)`,
    );
  } else {
    console.error(USAGE);
    process.exit(64);
  }
}

main().catch((err) => {
  console.error(`[local-cluster] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
