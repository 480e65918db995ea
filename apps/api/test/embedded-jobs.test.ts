// Embedded mode keeps its jobs in the database: a reminder pending when `npm start` stops is sent
// after the next start, once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDb } from './helpers/app';
import { type RunningProcess, startApi } from './helpers/process';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { sleep } from './helpers/wait';

describe.skipIf(testDb !== 'pglite')('embedded mode: jobs survive a restart', { timeout: 120_000 }, () => {
  let dataDir = '';
  let api: RunningProcess | undefined;
  let smtp: TestSmtpServer | undefined;
  afterAll(async () => {
    await api?.stop();
    await smtp?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a reminder due while the process is down is sent after the restart, once', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'taskman-jobs-'));
    smtp = await startSmtpServer();
    const env = {
      DATA_DIR: dataDir,
      SMTP_URL: smtp.url,
      // With SMTP, sign-up would confirm the address by mail first; this test signs up directly.
      SIGNUP_VERIFY_EMAIL: 'false',
      LOG_LEVEL: 'info',
      JOB_POLL_MS: '100',
      BCRYPT_COST: '4',
      NODE_ENV: 'test',
    };
    api = await startApi(env);
    const post = async (route: string, body: unknown, token?: string) => {
      const res = await fetch(`${api!.url}/api/v1${route}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const session = await post('/auth/register', {
      email: 'ann@example.com',
      password: 'correct horse',
      name: 'Ann',
    });
    expect(session.status).toBe(201);
    // Whole seconds, a few of them ahead: the process is stopped before they pass.
    const at = new Date(Math.ceil((Date.now() + 4_000) / 1000) * 1000).toISOString();
    const task = await post(
      '/tasks',
      { title: 'Survive the restart', remind_at: at },
      session.body.data.token,
    );
    expect(task.status).toBe(201);
    // Give the relay time to move the event into the jobs table, then stop before the reminder is due.
    await sleep(600);
    expect(await api.stop()).toBe(0);
    await sleep(Math.max(0, Date.parse(at) - Date.now() + 500));
    expect(smtp.received).toHaveLength(0);

    api = await startApi(env);
    const [mail] = await smtp.waitFor(1, 20_000);
    expect(mail!.to).toEqual(['ann@example.com']);
    expect(mail!.parsed.subject).toContain('Survive the restart');
    await sleep(1_000);
    expect(smtp.received).toHaveLength(1);
  });
});
