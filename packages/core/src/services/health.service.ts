import type { CacheStore } from '../cache/cache.store';
import type { Database } from '../db/client';
import type { Log } from '../lib/log';

export type CheckState = 'ok' | 'down';

export interface Readiness {
  /** Ready when the database answers; Redis down only makes Taskman slower, so it is reported, not required. */
  ready: boolean;
  checks: { database: CheckState; redis?: CheckState };
}

/** What /health/ready reports: the database must answer; the cache store is informative. */
export class HealthService {
  constructor(
    private readonly database: Database,
    private readonly cacheStore: CacheStore,
    private readonly log: Log,
  ) {}

  async readiness(): Promise<Readiness> {
    const database = await this.database.ping().then(
      (): CheckState => 'ok',
      (err: Error): CheckState => {
        this.log.warn({ err: { message: err.message } }, 'readiness: the database does not answer');
        return 'down';
      },
    );
    const checks: Readiness['checks'] = { database };
    if (this.cacheStore.kind === 'redis') checks.redis = this.cacheStore.isReady() ? 'ok' : 'down';
    return { ready: database === 'ok', checks };
  }
}
