// A bounded, steady mixed load for the failure tests: virtual users, each with its own account,
// send requests at a fixed pace over HTTPS (kept-alive connections, like a browser or the CLI)
// until stopped, and every answer is recorded: what failed, and which creates the client saw
// succeed (to look for them in the database afterwards).
import { Agent, request } from 'node:https';

export interface LoadUser {
  token: string;
  /** Readers only read (their reads may go to the replica); writers mix in creates and updates. */
  kind: 'reader' | 'writer';
  /** Their tasks, for GET and PATCH by id (writers add what they create). */
  taskIds: string[];
  /** A writer's last known priority of each of its tasks (what a read must show: read-your-writes). */
  known?: Map<string, string>;
}

export interface Outcome {
  /** Whose request it was: a reader's or a writer's. */
  by: LoadUser['kind'] | undefined;
  method: string;
  path: string;
  /** The HTTP status, or 0 when no answer came (connection error, timeout). */
  status: number;
  retryAfter?: string | undefined;
  error?: string | undefined;
  at: number;
}

// A type, not an interface: it is passed where any record of numbers is taken (report).
export type LoadFigures = {
  requests: number;
  failures: number;
  /** Failures of GET (idempotent: nginx retries them on another process, so none may fail). */
  failedReads: number;
  failedWrites: number;
  createsSeen: number;
  staleReads: number;
};

export class Load {
  readonly outcomes: Outcome[] = [];
  /** Ids of the tasks whose create answered 201. */
  readonly created: string[] = [];
  /** Reads that showed a writer an older state than its own last write (must stay empty). */
  readonly stale: { taskId: string; expected: string; got: string }[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    ca: string,
    private readonly users: LoadUser[],
    /** Requests per second per virtual user. */
    private readonly perUserRate = 10,
  ) {
    this.agent = new Agent({ ca, keepAlive: true, maxSockets: 4 });
  }

  start(): void {
    this.running = true;
    this.loops = this.users.map((u, i) => this.loop(u, i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** What failed: any answer other than 2xx. */
  failures(from = 0, to = Number.POSITIVE_INFINITY): Outcome[] {
    return this.outcomes.filter((o) => o.at >= from && o.at < to && (o.status < 200 || o.status >= 300));
  }

  figures(): LoadFigures {
    const failures = this.failures();
    return {
      requests: this.outcomes.length,
      failures: failures.length,
      failedReads: failures.filter((f) => f.method === 'GET').length,
      failedWrites: failures.filter((f) => f.method !== 'GET').length,
      createsSeen: this.created.length,
      staleReads: this.stale.length,
    };
  }

  close(): void {
    this.agent.destroy();
  }

  private async loop(user: LoadUser, index: number): Promise<void> {
    const pause = 1000 / this.perUserRate;
    let n = index;
    while (this.running) {
      const started = Date.now();
      await this.step(user, n++);
      const wait = pause - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async step(user: LoadUser, n: number): Promise<void> {
    const pick = <T>(items: T[]) => items[n % items.length];
    const roll = n % 10;
    if (user.kind === 'writer' && !user.known) user.known = new Map();
    const known = user.known;
    if (known && roll < 2) {
      const priority = pick(['low', 'medium', 'high'])!;
      const res = await this.send(user, 'POST', '/api/v1/tasks', {
        title: `load ${n}`,
        priority,
        tags: [pick(['work', 'home', 'errand'])!],
      });
      const id = (res.body as { data?: { id?: string } } | undefined)?.data?.id;
      if (res.status === 201 && id) {
        this.created.push(id);
        user.taskIds.push(id);
        known.set(id, priority);
      }
    } else if (known && roll === 2 && user.taskIds.length) {
      const id = pick(user.taskIds)!;
      const priority = pick(['low', 'medium', 'high', 'urgent'])!;
      const res = await this.send(user, 'PATCH', `/api/v1/tasks/${id}`, { priority });
      // Applied, or — no answer — perhaps applied: then nothing is known until the next write.
      if (res.status === 200) known.set(id, priority);
      else if (res.status === 0 || res.status >= 500) known.delete(id);
    } else if (roll < 6 || !user.taskIds.length) {
      await this.send(
        user,
        'GET',
        pick(['/api/v1/tasks', '/api/v1/tasks?status=todo&sort=priority', '/api/v1/projects'])!,
      );
    } else {
      const id = pick(user.taskIds)!;
      const res = await this.send(user, 'GET', `/api/v1/tasks/${id}`);
      const got = (res.body as { data?: { priority?: string } } | undefined)?.data?.priority;
      const expected = known?.get(id);
      if (res.status === 200 && expected !== undefined && got !== expected)
        this.stale.push({ taskId: id, expected, got: String(got) });
    }
  }

  /** One request; the outcome is recorded whatever happens. */
  send(
    user: Pick<LoadUser, 'token'> & Partial<Pick<LoadUser, 'kind'>>,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body?: unknown }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      const done = (status: number, parsed?: unknown, retryAfter?: string, error?: string) => {
        this.outcomes.push({ by: user.kind, method, path, status, retryAfter, error, at: Date.now() });
        resolve({ status, body: parsed });
      };
      const req = request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          timeout: 20_000,
          headers: {
            ...headers,
            authorization: `Bearer ${user.token}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              parsed = undefined;
            }
            const retryAfter = res.headers['retry-after'];
            done(res.statusCode ?? 0, parsed, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
          });
          res.on('error', (err) => done(0, undefined, undefined, err.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => done(0, undefined, undefined, err.message));
      req.end(payload);
    });
  }
}

/** One line per scenario, printed by the failure tests. */
export function report(scenario: string, figures: Record<string, number>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${v}`);
  console.log(`[scale-out] ${scenario}: ${parts.join(' ')}`);
}
