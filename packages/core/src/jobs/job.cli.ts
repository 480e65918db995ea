// `npm run job -- <job_name> [json payload]`: runs one job now against the configured database
// (and Redis), prints what it did, and exits. For operators and tests.
import { loadConfigOrExit } from '../config';
import { createCore } from '../core';
import { isJobName, JOB_NAMES, type JobName, type JobPayloads } from './job.catalogue';

const [name, rawPayload] = process.argv.slice(2);
if (!name || !isJobName(name)) {
  console.error(`usage: npm run job -- <${JOB_NAMES.join('|')}> ['{"json":"payload"}']`);
  process.exit(2);
}
const config = loadConfigOrExit();
try {
  const payload = rawPayload ? (JSON.parse(rawPayload) as JobPayloads[JobName]) : {};
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
