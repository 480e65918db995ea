// `npm run job -- <job_name> [json payload]`: runs one job now against the configured database
// (and Redis), prints what it did, and exits. For operators and tests.
import { loadConfigOrExit } from '../config';
import { createCore } from '../core';
import { isJobName, JOB_NAMES, type JobName, type JobPayloads } from './job.catalogue';

const [name, rawPayload] = process.argv.slice(2);
if (!name || !isJobName(name)) {
  console.error(`usage: npm run job -- <${JOB_NAMES.join('|')}> ['{"json":"payload"}']`);
  if (name) console.error(`unknown job "${name}"`);
  process.exit(2);
}
let payload: JobPayloads[JobName];
try {
  payload = rawPayload ? (JSON.parse(rawPayload) as JobPayloads[JobName]) : {};
} catch {
  console.error(`the payload must be JSON, e.g. '{"olderThanDays":90}'`);
  process.exit(2);
}
const days = (payload as { olderThanDays?: unknown }).olderThanDays;
if (name === 'cleanup_tasks' && days !== undefined && !(Number.isInteger(days) && (days as number) >= 1)) {
  console.error('olderThanDays must be a whole number of days, at least 1');
  process.exit(2);
}
const config = loadConfigOrExit();
try {
  const core = await createCore(config);
  try {
    const result = await (core.jobs[name] as (p: JobPayloads[JobName]) => Promise<object>)(payload);
    console.log(JSON.stringify({ job: name, ...result }));
  } finally {
    await core.close();
  }
} catch (err) {
  console.error(`${name} failed: ${(err as Error).message}`);
  process.exit(1);
}
