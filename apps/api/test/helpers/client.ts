import type { FastifyInstance, InjectOptions } from 'fastify';

export interface Res<T = any> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  raw: string;
}

/** A tiny HTTP client over `app.inject`, with an optional bearer token. */
export class Client {
  constructor(
    readonly app: FastifyInstance,
    public token?: string,
  ) {}

  async request<T = any>(
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res<T>> {
    const res = await this.app.inject({
      method,
      url,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers },
      ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
    });
    let parsed: unknown;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed as T, raw: res.body };
  }

  get<T = any>(url: string, headers?: Record<string, string>) {
    return this.request<T>('GET', url, undefined, headers);
  }
  post<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', url, body, headers);
  }
  patch<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', url, body, headers);
  }
  put<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', url, body, headers);
  }
  delete<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('DELETE', url, body, headers);
  }
}

let seq = 0;
/** A unique email for this test run. */
export const uniqueEmail = (prefix = 'user') => `${prefix}.${Date.now().toString(36)}.${++seq}@example.com`;

/** Registers a new user and returns a client signed in as them. */
export async function signUp(
  app: FastifyInstance,
  fields: { email?: string; password?: string; name?: string; timezone?: string } = {},
): Promise<Client & { user: any; password: string }> {
  const password = fields.password ?? 'correct horse battery';
  const res = await new Client(app).post('/api/v1/auth/register', {
    email: fields.email ?? uniqueEmail(),
    password,
    name: fields.name ?? 'Test User',
    ...(fields.timezone ? { timezone: fields.timezone } : {}),
  });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${res.raw}`);
  return Object.assign(new Client(app, res.body.data.token), { user: res.body.data.user, password });
}

/** Asserts the error envelope and returns it, for further checks. */
export function expectError(res: Res, status: number, code: string) {
  if (res.status !== status || res.body?.error?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${res.raw}`);
  }
  if (res.body.success !== false || typeof res.body.request_id !== 'string') {
    throw new Error(`not an error envelope: ${res.raw}`);
  }
  return res.body.error as { code: string; message: string; details?: { field: string; message: string }[] };
}

/** Every field the API returns for a user, sorted: no more (never the password hash), no less. */
export const USER_KEYS = [
  'created_at',
  'disabled_at',
  'email',
  'id',
  'name',
  'reminder_lead_minutes',
  'role',
  'timezone',
  'updated_at',
  'weekly_report_day',
  'weekly_report_hour',
];
