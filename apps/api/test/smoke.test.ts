import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { signUp } from './helpers/client';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('registers, creates and lists a task', async () => {
    const ann = await signUp(t.app);
    const created = await ann.post('/api/v1/tasks', { title: '  Buy milk ', tags: ['Home', 'home '] });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      title: 'Buy milk',
      tags: ['home'],
      priority: 'medium',
      status: 'todo',
      version: 1,
    });
    const list = await ann.get('/api/v1/tasks?q=mil');
    expect(list.body.data.map((x: any) => x.id)).toEqual([created.body.data.id]);
    expect(list.body.meta).toEqual({ page: 1, limit: 20, total: 1, total_pages: 1 });
  });
});
