// The SDK against a real listening server: typed calls, the envelope unwrapped, errors as TaskmanError.
import { createTaskmanClient, expectOk, type Session, TaskmanError, unwrap, unwrapBody } from '@taskman/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { uniqueEmail } from './helpers/client';

describe('SDK client', () => {
  let t: TestApp;
  let baseUrl = '';
  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => t.close());

  it('registers, creates, filters, updates and deletes through typed calls', async () => {
    const anonymous = createTaskmanClient({ baseUrl });
    // 201 with a session, or 202 when the server confirms email addresses first (not here).
    const session = await unwrap<Session | { status: string }>(
      anonymous.POST('/api/v1/auth/register', {
        body: { email: uniqueEmail(), password: 'correct horse', name: 'Sdk' },
      }),
    );
    if (!('token' in session)) throw new Error('expected a session');
    expect(session.token).toBeTruthy();
    let token: string | undefined = session.token;
    const api = createTaskmanClient({ baseUrl, token: () => token });

    const task = await unwrap(
      api.POST('/api/v1/tasks', { body: { title: 'From the SDK', priority: 'high', tags: ['sdk'] } }),
    );
    expect(task).toMatchObject({ title: 'From the SDK', priority: 'high', tags: ['sdk'], status: 'todo' });
    await unwrap(api.POST('/api/v1/tasks', { body: { title: 'Low one', priority: 'low' } }));

    const page = await unwrapBody(
      api.GET('/api/v1/tasks', { params: { query: { priority: ['high', 'urgent'] } } }),
    );
    expect(page.data.map((x) => x.title)).toEqual(['From the SDK']);
    expect(page.meta.total).toBe(1);

    const done = await unwrap(
      api.PATCH('/api/v1/tasks/{id}', { params: { path: { id: task.id } }, body: { status: 'done' } }),
    );
    expect(done.completed_at).not.toBeNull();
    await expectOk(api.DELETE('/api/v1/tasks/{id}', { params: { path: { id: task.id } } }));

    token = undefined;
    await expect(unwrap(api.GET('/api/v1/users/me'))).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
  });

  it('turns an error answer into a TaskmanError with code, message, field details and request id', async () => {
    const api = createTaskmanClient({ baseUrl });
    const err = await unwrap<unknown>(
      api.POST('/api/v1/auth/register', { body: { email: 'not-an-email', password: 'x', name: '' } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskmanError);
    expect(err).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    expect((err as TaskmanError).details.length).toBeGreaterThan(0);
    expect((err as TaskmanError).requestId).toMatch(/[0-9a-f-]{36}/);
  });
});
