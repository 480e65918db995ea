// Preloaded into each server the benchmark starts (`node --import tsx --import ./bench/instrument.ts`).
// Counts, per process: HTTP requests, CPU time, and the messages sent to PostgreSQL and to Redis.
// A "message" is one write to the socket, or one corked batch of writes: node-postgres corks a
// query's parse/bind/describe/execute/sync into one batch and ioredis writes a pipeline or MULTI
// in one write, so each is one round trip. The parent asks for the counts over IPC.
// The cost is a comparison per socket write, the same in every server measured.
import http from 'node:http';
import net from 'node:net';

const pgPort = Number(process.env.BENCH_PG_PORT ?? 5432);
const redisPort = Number(process.env.BENCH_REDIS_PORT ?? 6379);
const counts = { http: 0, pg: 0, redis: 0 };

function sent(socket: net.Socket): void {
  const port = socket.remotePort;
  if (port === pgPort) counts.pg++;
  else if (port === redisPort) counts.redis++;
}

const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
  if (this.writableCorked === 0) sent(this);
  return (write as (...a: unknown[]) => boolean).apply(this, args);
} as typeof write;

const uncork = net.Socket.prototype.uncork;
net.Socket.prototype.uncork = function (this: net.Socket) {
  if (this.writableCorked === 1 && this.writableLength > 0) sent(this);
  return uncork.call(this);
};

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
  if (event === 'request') counts.http++;
  return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
} as typeof emit;

if (process.send) {
  process.on('message', (message) => {
    if (message !== 'bench:counts') return;
    const cpu = process.cpuUsage();
    process.send?.({
      type: 'bench:counts',
      // nowUs is on the clock of `node --cpu-prof` profiles (monotonic, µs).
      counts: { ...counts, cpuMicros: cpu.user + cpu.system, nowUs: Number(process.hrtime.bigint() / 1000n) },
    });
  });
  // The IPC channel must not keep the server alive once it has closed.
  process.channel?.unref();
}
