// `npm test`: the whole suite in two phases (see vitest.config.ts): first the files that start
// processes and browsers or race timers, one at a time; then the plain API tests, two at a time.
// Arguments are passed to both runs (e.g. `npm test -- --reporter=dot`).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const run = (phase, workers) =>
  spawnSync('npx', ['vitest', 'run', `--maxWorkers=${workers}`, ...args], {
    stdio: 'inherit',
    env: { ...process.env, TEST_PHASE: phase },
  }).status ?? 1;

const serial = run('serial', 1);
const parallel = run('parallel', 2);
process.exit(serial || parallel);
