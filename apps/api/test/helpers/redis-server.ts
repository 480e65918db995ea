import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';

/** A port nobody listens on right now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  if (!port) throw new Error('could not find a free port');
  return port;
}

/** Sends PING over a raw socket; true if the server answered +PONG within timeoutMs. */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

const running = new Set<ChildProcess>();
// A test run that dies must not leave redis-servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A private redis-server (no persistence) on a spare port, for tests that take Redis away:
 * stop and restart it on the same port, or freeze it (SIGSTOP) so it accepts but never answers.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private frozen = false;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** (Re)starts the server on the same port; resolves once it answers PING. */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (c) => {
      output += c.toString();
    });
    child.stderr?.on('data', (c) => {
      output += c.toString();
    });
    this.child = child;
    this.frozen = false;
    running.add(child);
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`redis-server exited at start:\n${output}`);
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not answer PING on port ${this.port}:\n${output}`);
  }

  /** Stops the server (data is lost: no persistence) and waits until it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = once(child, 'exit');
    if (this.frozen) this.thaw(); // a stopped process would not act on SIGTERM
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGSTOP: connections stay open but nothing is answered. */
  freeze(): void {
    if (!this.child?.pid) throw new Error('redis-server is not running');
    this.child.kill('SIGSTOP');
    this.frozen = true;
  }

  /** SIGCONT: the server resumes and answers whatever was sent meanwhile. */
  thaw(): void {
    if (!this.child?.pid) throw new Error('redis-server is not running');
    this.child.kill('SIGCONT');
    this.frozen = false;
  }

  /** True if the server answers PING now. */
  answers(timeoutMs = 500): Promise<boolean> {
    return ping(this.port, timeoutMs);
  }
}
