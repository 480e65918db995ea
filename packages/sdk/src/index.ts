// The Taskman SDK: the API's types, generated from its OpenAPI document, and a small typed client
// (openapi-fetch). Every path, parameter, body and response is checked by the compiler.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, paths };
export type Schemas = components['schemas'];
export type Task = Schemas['Task'];
export type Project = Schemas['Project'];
export type User = Schemas['User'];
export type Session = Schemas['Session'];
export type TaskmanClient = Client<paths>;

export interface ApiErrorBody {
  success: false;
  error: {
    code: string;
    message: string;
    details?: { field: string; message: string }[];
    current_version?: number;
  };
  request_id?: string;
}

/** An error answer of the API: its HTTP status, code (VALIDATION_ERROR, NOT_FOUND, …) and message. */
export class TaskmanError extends Error {
  override name = 'TaskmanError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field: string; message: string }[] = [],
    readonly requestId?: string,
    /** PRECONDITION_FAILED (412): the version the resource has now; send it as If-Match to retry. */
    readonly currentVersion?: number,
  ) {
    super(message);
  }
}

export interface TaskmanClientOptions {
  /** Where the API is, e.g. https://tasks.example.com (the client adds /api/v1 per path). */
  baseUrl: string;
  /** A token (JWT or API key), or a function returning the current one. */
  token?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

/** A typed client: `client.GET('/api/v1/tasks', { params: { query: { status: ['todo'] } } })`. */
export function createTaskmanClient(opts: TaskmanClientOptions): TaskmanClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/$/, ''),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    // Arrays as the API reads them: status=todo,in_progress.
    querySerializer: { array: { style: 'form', explode: false } },
  });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = typeof opts.token === 'function' ? opts.token() : opts.token;
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

function toError(error: unknown, response: Response): TaskmanError {
  const body = error as Partial<ApiErrorBody> | undefined;
  return new TaskmanError(
    response.status,
    body?.error?.code ?? 'HTTP_ERROR',
    body?.error?.message ?? `HTTP ${response.status}`,
    body?.error?.details,
    body?.request_id,
    body?.error?.current_version,
  );
}

/** The `data` of a successful answer; throws TaskmanError for an error answer. */
export async function unwrap<T>(
  call: Promise<{ data?: { data: T }; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw toError(error, response);
  return data.data;
}

/** The whole body (e.g. `{data, meta}` of a list) of a successful answer; throws TaskmanError otherwise. */
export async function unwrapBody<B>(
  call: Promise<{ data?: B; error?: unknown; response: Response }>,
): Promise<B> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw toError(error, response);
  return data;
}

/** For answers without a body (204); throws TaskmanError for an error answer. */
export async function expectOk(call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  const { error, response } = await call;
  if (!response.ok) throw toError(error, response);
}
