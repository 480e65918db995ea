import type { Database } from '../db/client';
import type { Log } from '../lib/log';

export type CheckState = 'ok' | 'down';
export interface Check {
  status: CheckState;
  /** How long the check took (a timeout counts as down). */
  latencyMs: number;
}

export interface Readiness {
  /**
   * Ready when the database answers. Redis and the job queue are reported, not required: without
   * them the API serves from the database and the outbox keeps the jobs until they are back, so a
   * load balancer should keep sending traffic (status "degraded").
   */
  ready: boolean;
  status: 'ok' | 'degraded' | 'unavailable';
  checks: { database: Check; redis?: Check; queue?: Check };
}

/** A dependency is down when it fails or takes longer than this. */
const CHECK_TIMEOUT_MS = 2_000;

/** What /health/ready reports: each dependency's state and latency; the database must answer. */
export class HealthService {
  constructor(
    private readonly database: Database,
    private readonly log: Log,
    private readonly probes: { redis?: () => Promise<unknown>; queue?: () => Promise<unknown> } = {},
  ) {}

  private async check(name: string, probe: () => Promise<unknown>): Promise<Check> {
    const start = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)),
            CHECK_TIMEOUT_MS,
          );
        }),
      ]);
      return { status: 'ok', latencyMs: round(performance.now() - start) };
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, `readiness: ${name} does not answer`);
      return { status: 'down', latencyMs: round(performance.now() - start) };
    } finally {
      clearTimeout(timer);
    }
  }

  async readiness(): Promise<Readiness> {
    const { redis, queue } = this.probes;
    const [database, redisCheck, queueCheck] = await Promise.all([
      this.check('the database', () => this.database.ping()),
      redis ? this.check('Redis', redis) : undefined,
      queue ? this.check('the job queue', queue) : undefined,
    ]);
    const checks: Readiness['checks'] = { database };
    if (redisCheck) checks.redis = redisCheck;
    if (queueCheck) checks.queue = queueCheck;
    const ready = database.status === 'ok';
    const allOk = Object.values(checks).every((c) => c.status === 'ok');
    return { ready, status: !ready ? 'unavailable' : allOk ? 'ok' : 'degraded', checks };
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
