// The whole of cluster mode on one machine, from Debian's packages: a PostgreSQL primary and a
// streaming replica (a second cluster made with pg_basebackup -R), Redis, three API processes, two
// workers and nginx in front (TLS 1.3 with a certificate made at start). `up` and `down` use it
// (README "Running in production"); the failure tests (apps/api/test/scale-out.test.ts) drive it
// part by part: kill a process, restart Redis, stop the replica, restart the primary.
//
// Everything lives in one state directory (data, logs, pid files, the generated secrets and
// certificate); `down` stops exactly the processes recorded there, and keeps the data unless asked.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { makeSelfSignedCertificate } from './tls';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NGINX_DIR = path.join(REPO, 'deploy/nginx');
export const WEB_ROOT = path.join(REPO, 'apps/web/dist');

export interface ClusterOptions {
  /** The state directory (data, logs, pid files, secrets). */
  dir: string;
  /** nginx listens here (HTTPS); the other parts on the ports after it (see portsFrom). */
  basePort?: number;
  apis?: number;
  workers?: number;
  /** Extra settings for the API and worker processes (e.g. RATE_LIMIT_MAX for a load test). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface Ports {
  https: number;
  primary: number;
  replica: number;
  redis: number;
  apis: number[];
  workerMetrics: number[];
}

export const portsFrom = (base: number, apis: number, workers: number): Ports => ({
  https: base,
  primary: base + 1,
  replica: base + 2,
  redis: base + 3,
  apis: Array.from({ length: apis }, (_, i) => base + 10 + i),
  workerMetrics: Array.from({ length: workers }, (_, i) => base + 20 + i),
});

interface State {
  basePort: number;
  ports: Ports;
  /** The passwords of the cluster's PostgreSQL superuser and of its Redis (the file is 0600). */
  passwords: { postgres: string; redis: string };
  /** Settings shared by the API and worker processes (secrets included: the file is 0600). */
  env: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PostgreSQL's programs (Debian keeps them per major version, off the PATH). */
function pgBin(program: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const file = path.join(root, v, 'bin', program);
    if (existsSync(file)) return file;
  }
  return program;
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL program as the postgres user when we are root (the server refuses root). */
function asPostgres(program: string, args: string[], env: Record<string, string> = {}): string {
  const [cmd, argv] = isRoot()
    ? ['runuser', ['-u', 'postgres', '--', pgBin(program), ...args]]
    : [pgBin(program), args];
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...env } });
}

const postgresIds = () => ({
  uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
});

function ownedByPostgres(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isRoot()) return;
  const { uid, gid } = postgresIds();
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
}

/**
 * The pid in a pid file, if that process is alive and is what the file is for (its command line
 * contains `marker`): after a reboot or a crash, a pid file may name an unrelated process.
 */
function pidOf(file: string, marker: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]!.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return cmdline.includes(marker) ? pid : undefined;
  } catch {
    // No /proc (not Linux): liveness is all there is to go on.
    return pid;
  }
}

/** Sends a signal; a process that has exited meanwhile is not an error. */
function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

async function pgQuery<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The status of a GET over HTTPS, trusting `ca`. */
export function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export type NodeProcess = `api-${number}` | `worker-${number}`;

export class LocalCluster {
  readonly ports: Ports;
  private readonly log: (line: string) => void;

  private constructor(
    readonly dir: string,
    private readonly state: State,
    log?: (line: string) => void,
  ) {
    this.ports = state.ports;
    this.log = log ?? (() => {});
  }

  get url(): string {
    return `https://localhost:${this.ports.https}`;
  }
  /** The certificate nginx presents (self-signed: clients trust it as their CA). */
  get certificate(): string {
    return readFileSync(path.join(this.dir, 'tls/cert.pem'), 'utf8');
  }
  /** The cluster's PostgreSQL superuser on the primary (the tests check what was stored). */
  get primaryUrl(): string {
    return this.pgUrl(this.ports.primary, 'taskman');
  }
  get replicaUrl(): string {
    return this.pgUrl(this.ports.replica, 'taskman');
  }
  get redisUrl(): string {
    return `redis://:${this.state.passwords.redis}@127.0.0.1:${this.ports.redis}`;
  }
  private pgUrl(port: number, database: string): string {
    return `postgres://postgres:${this.state.passwords.postgres}@127.0.0.1:${port}/${database}`;
  }
  get apiNames(): NodeProcess[] {
    return this.ports.apis.map((_, i) => `api-${i + 1}` as NodeProcess);
  }
  get workerNames(): NodeProcess[] {
    return this.ports.workerMetrics.map((_, i) => `worker-${i + 1}` as NodeProcess);
  }

  /** Opens the state of a cluster `up` started (for `down`, or a test's second look). */
  static load(dir: string, log?: (line: string) => void): LocalCluster {
    const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as State;
    return new LocalCluster(path.resolve(dir), state, log);
  }

  /** Starts every part (reusing data from an earlier `up` in the same directory) and waits for all. */
  static async up(opts: ClusterOptions): Promise<LocalCluster> {
    const dir = path.resolve(opts.dir);
    // Others may pass through (the postgres user to its data, nginx's workers to their temp
    // files), not look: the state holds passwords, keys and data.
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    chmodSync(dir, 0o711);
    chmodSync(path.join(dir, 'logs'), 0o711);
    const stateFile = path.join(dir, 'state.json');
    const previous = existsSync(stateFile)
      ? (JSON.parse(readFileSync(stateFile, 'utf8')) as State)
      : undefined;
    if (
      previous &&
      opts.basePort !== undefined &&
      opts.basePort !== previous.basePort &&
      existsSync(path.join(dir, 'pg-primary', 'PG_VERSION'))
    )
      throw new Error(
        `${dir} holds a cluster made for port ${previous.basePort} (its servers are configured for it): use --port ${previous.basePort}, another --dir, or down --purge first`,
      );
    const basePort = opts.basePort ?? previous?.basePort ?? 8443;
    const ports = portsFrom(basePort, opts.apis ?? 3, opts.workers ?? 2);
    const secret = (bytes: number, encoding: BufferEncoding) => randomBytes(bytes).toString(encoding);
    // Made once per state directory: the data sealed with them stays readable across ups.
    const passwords = previous?.passwords ?? { postgres: secret(24, 'hex'), redis: secret(24, 'hex') };
    const secrets = previous
      ? { JWT_SECRET: previous.env.JWT_SECRET!, ENCRYPTION_KEY: previous.env.ENCRYPTION_KEY! }
      : { JWT_SECRET: secret(48, 'base64url'), ENCRYPTION_KEY: secret(32, 'hex') };
    const databaseUrl = (port: number) =>
      `postgres://postgres:${passwords.postgres}@127.0.0.1:${port}/taskman`;
    const state: State = {
      basePort,
      ports,
      passwords,
      env: {
        NODE_ENV: 'production',
        ...secrets,
        DATABASE_URL: databaseUrl(ports.primary),
        DATABASE_REPLICA_URL: databaseUrl(ports.replica),
        REDIS_URL: `redis://:${passwords.redis}@127.0.0.1:${ports.redis}`,
        APP_URL: `https://localhost:${ports.https}`,
        HOST: '127.0.0.1',
        TRUST_PROXY: 'true',
        SHUTDOWN_DRAIN_MS: '5000',
        LOG_FORMAT: 'json',
        ...opts.env,
      },
    };
    writeFileSync(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    const cluster = new LocalCluster(dir, state, opts.log);
    try {
      await cluster.startAll();
    } catch (err) {
      cluster.log(`start failed: ${(err as Error).message}; stopping what started`);
      await cluster.down().catch(() => {});
      throw err;
    }
    return cluster;
  }

  private async startAll(): Promise<void> {
    if (!existsSync(path.join(WEB_ROOT, 'index.html'))) {
      this.log('building the web app (npm run build:web)');
      execFileSync('npm', ['run', 'build:web'], { cwd: REPO, stdio: 'ignore' });
    }
    this.makeCertificate();
    // A configuration nginx refuses fails the start before anything else runs.
    this.checkNginx();
    await Promise.all([this.startPrimary(), this.startRedis()]);
    await this.startReplica();
    // The first API process migrates (the others would wait on the migration lock anyway).
    const [first, ...rest] = this.apiNames;
    await this.start(first!);
    await Promise.all([...rest, ...this.workerNames].map((name) => this.start(name)));
    this.startNginx();
    await this.waitThroughNginx();
    this.log(`Taskman cluster is ready at ${this.url}`);
  }

  // ---- TLS ---------------------------------------------------------------------------------

  private makeCertificate(): void {
    const tls = path.join(this.dir, 'tls');
    if (existsSync(path.join(tls, 'cert.pem'))) return;
    mkdirSync(tls, { recursive: true, mode: 0o700 });
    makeSelfSignedCertificate(tls);
    this.log('made a self-signed TLS certificate for localhost (30 days)');
  }

  // ---- PostgreSQL --------------------------------------------------------------------------

  private pgDir(which: 'primary' | 'replica'): string {
    return path.join(this.dir, `pg-${which}`);
  }

  private pgLog(which: 'primary' | 'replica'): string {
    return path.join(this.dir, 'logs', `postgres-${which}.log`);
  }

  private async startPrimary(): Promise<void> {
    const data = this.pgDir('primary');
    if (!existsSync(path.join(data, 'PG_VERSION'))) {
      ownedByPostgres(data);
      // Password sign-in (scram) even on loopback: any local user could otherwise be superuser.
      const pwfile = path.join(this.dir, 'pg-pwfile');
      writeFileSync(pwfile, `${this.state.passwords.postgres}\n`, { mode: 0o600 });
      if (isRoot()) chownSync(pwfile, postgresIds().uid, -1);
      try {
        asPostgres('initdb', [
          '-D',
          data,
          '-U',
          'postgres',
          '--auth=scram-sha-256',
          `--pwfile=${pwfile}`,
          '-E',
          'UTF8',
          '--no-instructions',
        ]);
      } finally {
        rmSync(pwfile, { force: true });
      }
      // TCP on loopback only; streaming replication to the replica (initdb's pg_hba.conf already
      // trusts replication connections from 127.0.0.1).
      writeFileSync(
        path.join(data, 'postgresql.conf'),
        `${readFileSync(path.join(data, 'postgresql.conf'), 'utf8')}
# deploy/local-cluster
listen_addresses = '127.0.0.1'
port = ${this.ports.primary}
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
wal_keep_size = '256MB'
max_connections = 200
`,
      );
      this.log(`initialised the PostgreSQL primary in ${data}`);
    }
    await this.startPostgres('primary');
    const admin = this.pgUrl(this.ports.primary, 'postgres');
    const exists = await pgQuery<{ n: number }>(
      admin,
      `select count(*)::int as n from pg_database where datname = 'taskman'`,
    );
    if (!exists[0]?.n) await pgQuery(admin, 'create database taskman');
  }

  private async startReplica(): Promise<void> {
    const data = this.pgDir('replica');
    if (!existsSync(path.join(data, 'PG_VERSION'))) {
      ownedByPostgres(data);
      // A copy of the primary that follows it (-R writes primary_conninfo and standby.signal).
      asPostgres(
        'pg_basebackup',
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(this.ports.primary),
          '-U',
          'postgres',
          '-D',
          data,
          '-R',
          '-X',
          'stream',
          '-c',
          'fast',
        ],
        // -R writes this password into primary_conninfo (the replica's data directory is 0700).
        { PGPASSWORD: this.state.passwords.postgres },
      );
      writeFileSync(
        path.join(data, 'postgresql.auto.conf'),
        `${readFileSync(path.join(data, 'postgresql.auto.conf'), 'utf8')}port = ${this.ports.replica}\n`,
      );
      this.log(`made the streaming replica in ${data} (pg_basebackup -R)`);
    }
    await this.startPostgres('replica');
  }

  /** Starts a PostgreSQL server of the cluster and waits until it takes connections. */
  async startPostgres(which: 'primary' | 'replica'): Promise<void> {
    const data = this.pgDir(which);
    const port = which === 'primary' ? this.ports.primary : this.ports.replica;
    if (!this.postgresRunning(which)) {
      const logFile = this.pgLog(which);
      writeFileSync(logFile, '', { flag: 'a', mode: 0o600 });
      if (isRoot()) chownSync(logFile, postgresIds().uid, -1);
      asPostgres('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
    }
    await waitFor(`PostgreSQL ${which} on port ${port}`, async () => {
      await pgQuery(this.pgUrl(port, 'postgres'), 'select 1');
      return true;
    });
  }

  /** Stops a PostgreSQL server of the cluster ('fast': running transactions are rolled back). */
  stopPostgres(which: 'primary' | 'replica', mode: 'fast' | 'immediate' = 'fast'): void {
    if (!this.postgresRunning(which)) return;
    asPostgres('pg_ctl', ['-D', this.pgDir(which), '-m', mode, '-w', 'stop']);
  }

  postgresRunning(which: 'primary' | 'replica'): boolean {
    return pidOf(path.join(this.pgDir(which), 'postmaster.pid'), 'postgres') !== undefined;
  }

  // ---- Redis -------------------------------------------------------------------------------

  async startRedis(): Promise<void> {
    if (!this.redisRunning()) {
      execFileSync(
        'redis-server',
        [
          // The configuration starts with what comes on stdin (the password), then these.
          '-',
          '--port',
          String(this.ports.redis),
          '--bind',
          '127.0.0.1',
          '--daemonize',
          'yes',
          '--pidfile',
          path.join(this.dir, 'redis.pid'),
          '--dir',
          this.dir,
          '--logfile',
          path.join(this.dir, 'logs', 'redis.log'),
          // BullMQ's queue lives here: kept on disk (append-only file), so a restart loses no job.
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
          // Not on the command line, where any local user could read it: from the config on stdin.
        ],
        { input: `requirepass ${this.state.passwords.redis}\n` },
      );
    }
    await waitFor(`Redis on port ${this.ports.redis}`, async () =>
      this.redisCli(['ping']).trim() === 'PONG' ? true : undefined,
    );
  }

  /** redis-cli on the cluster's Redis (the password in the environment, not the arguments). */
  private redisCli(args: string[]): string {
    return execFileSync('redis-cli', ['-p', String(this.ports.redis), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDISCLI_AUTH: this.state.passwords.redis },
    });
  }

  /** Stops Redis (what the append-only file holds comes back with it). */
  async stopRedis(): Promise<void> {
    const pid = this.redisPid();
    if (pid === undefined) return;
    try {
      this.redisCli(['shutdown']);
    } catch {
      // redis-cli reports the connection closing under it
    }
    await waitFor('Redis to stop', async () => (pidAlive(pid) ? undefined : true), 10_000);
  }

  /** Keys in the cluster's Redis matching a pattern (the failure tests look for rate-limit counters). */
  async redisKeys(pattern: string): Promise<string[]> {
    return this.redisCli(['--scan', '--pattern', pattern]).split('\n').filter(Boolean);
  }

  private redisPid(): number | undefined {
    return pidOf(path.join(this.dir, 'redis.pid'), 'redis-server');
  }

  redisRunning(): boolean {
    return this.redisPid() !== undefined;
  }

  // ---- API and worker processes ------------------------------------------------------------

  private pidFile(name: string): string {
    return path.join(this.dir, `${name}.pid`);
  }

  pid(name: NodeProcess): number | undefined {
    return pidOf(
      this.pidFile(name),
      name.startsWith('api') ? 'apps/api/src/main.ts' : 'apps/worker/src/main.ts',
    );
  }

  /** An API process's own port (behind nginx), or a worker's metrics port. */
  portOf(name: NodeProcess): number {
    const [kind, n] = name.split('-') as ['api' | 'worker', string];
    const ports = kind === 'api' ? this.ports.apis : this.ports.workerMetrics;
    const port = ports[Number(n) - 1];
    if (port === undefined) throw new Error(`no such process: ${name}`);
    return port;
  }

  /** Starts an API or worker process (detached: it outlives `up`) and waits until it is ready. */
  async start(name: NodeProcess): Promise<void> {
    if (this.pid(name) !== undefined) return;
    const kind = name.startsWith('api') ? 'api' : 'worker';
    const port = this.portOf(name);
    const out = openSync(path.join(this.dir, 'logs', `${name}.log`), 'a');
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', kind === 'api' ? 'apps/api/src/main.ts' : 'apps/worker/src/main.ts'],
      {
        cwd: REPO,
        detached: true,
        stdio: ['ignore', out, out],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...this.state.env,
          ...(kind === 'api' ? { PORT: String(port) } : { METRICS_PORT: String(port) }),
        },
      },
    );
    child.unref();
    writeFileSync(this.pidFile(name), String(child.pid));
    await this.waitReady(name);
  }

  /** Waits until the process answers: an API's /health/ready, a worker's /metrics. */
  async waitReady(name: NodeProcess, timeoutMs = 90_000): Promise<void> {
    const port = this.portOf(name);
    const url = name.startsWith('api')
      ? `http://127.0.0.1:${port}/health/ready`
      : `http://127.0.0.1:${port}/metrics`;
    await waitFor(
      `${name} on port ${port} (log: ${path.join(this.dir, 'logs', `${name}.log`)})`,
      async () => {
        if (this.pid(name) === undefined) throw new Error(`${name} exited`);
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** Sends a signal to an API or worker process; with wait, until it has exited. */
  async signal(name: NodeProcess, signal: NodeJS.Signals, wait = true): Promise<void> {
    const pid = this.pid(name);
    if (pid === undefined) return;
    kill(pid, signal);
    if (wait) await waitFor(`${name} to exit`, async () => (pidAlive(pid) ? undefined : true), 60_000);
  }

  // ---- nginx -------------------------------------------------------------------------------

  private nginxDir(): string {
    return path.join(this.dir, 'nginx');
  }

  /** deploy/nginx/taskman.conf.template with this cluster's values, in a main config of our own. */
  private writeNginxConfig(): string {
    const dir = this.nginxDir();
    mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
    const temp = path.join(dir, 'temp');
    mkdirSync(temp, { recursive: true });
    // The workers run as nobody when nginx starts as root: they write request bodies here.
    chmodSync(dir, 0o711);
    chmodSync(temp, 0o700);
    if (isRoot()) {
      const nobody = (flag: string) =>
        Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
      chownSync(temp, nobody('-u'), nobody('-g'));
    }
    const values: Record<string, string> = {
      UPSTREAM_SERVERS: this.ports.apis
        .map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`)
        .join('\n  '),
      LISTEN_PORT: `127.0.0.1:${this.ports.https}`,
      TLS_CERT: path.join(this.dir, 'tls/cert.pem'),
      TLS_KEY: path.join(this.dir, 'tls/key.pem'),
      WEB_ROOT,
      ACCESS_LOG: path.join(this.dir, 'logs', 'nginx-access.log'),
    };
    const template = readFileSync(path.join(NGINX_DIR, 'taskman.conf.template'), 'utf8');
    // As the nginx image's envsubst does: only the names given; nginx's own $variables stay.
    const rendered = template.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
    writeFileSync(path.join(dir, 'conf.d', 'taskman.conf'), rendered);
    copyFileSync(path.join(NGINX_DIR, 'taskman-proxy.conf'), path.join(dir, 'taskman-proxy.conf'));
    const main = `# Written by deploy/local-cluster; the Taskman part is conf.d/taskman.conf.
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(this.dir, 'logs', 'nginx-error.log')} warn;
${isRoot() ? 'user nobody nogroup;' : ''}
events {
  worker_connections 1024;
}
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  include conf.d/*.conf;
}
`;
    const file = path.join(dir, 'nginx.conf');
    writeFileSync(file, main);
    return file;
  }

  private checkNginx(): void {
    const conf = this.writeNginxConfig();
    const errorLog = path.join(this.dir, 'logs', 'nginx-error.log');
    execFileSync('nginx', ['-p', this.nginxDir(), '-c', conf, '-e', errorLog, '-t', '-q'], { stdio: 'pipe' });
  }

  private startNginx(): void {
    if (this.nginxPid() !== undefined) return;
    const conf = path.join(this.nginxDir(), 'nginx.conf');
    const errorLog = path.join(this.dir, 'logs', 'nginx-error.log');
    execFileSync('nginx', ['-p', this.nginxDir(), '-c', conf, '-e', errorLog], { stdio: 'pipe' });
  }

  nginxPid(): number | undefined {
    return pidOf(path.join(this.nginxDir(), 'nginx.pid'), 'nginx');
  }

  private async waitThroughNginx(): Promise<void> {
    const ca = this.certificate;
    await waitFor(`nginx on ${this.url}`, async () =>
      (await httpsStatus(`${this.url}/health/ready`, ca)) === 200 ? true : undefined,
    );
  }

  // ---- down --------------------------------------------------------------------------------

  /** Stops what `up` started (by the pid files in the state directory); purge deletes the data too. */
  async down(opts: { purge?: boolean } = {}): Promise<void> {
    const nginx = this.nginxPid();
    if (nginx !== undefined) {
      kill(nginx, 'SIGQUIT');
      await waitFor('nginx to stop', async () => (pidAlive(nginx) ? undefined : true), 15_000).catch(() =>
        kill(nginx, 'SIGKILL'),
      );
    }
    const nodes = [...this.apiNames, ...this.workerNames];
    // SIGTERM without waiting for drains one by one: they stop together.
    await Promise.all(
      nodes.map(async (name) => {
        const pid = this.pid(name);
        if (pid === undefined) return;
        kill(pid, 'SIGTERM');
        await waitFor(`${name} to stop`, async () => (pidAlive(pid) ? undefined : true), 45_000).catch(() =>
          kill(pid, 'SIGKILL'),
        );
        rmSync(this.pidFile(name), { force: true });
      }),
    );
    await this.stopRedis();
    this.stopPostgres('replica');
    this.stopPostgres('primary');
    if (opts.purge) rmSync(this.dir, { recursive: true, force: true });
  }
}
