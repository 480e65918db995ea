// Runs before `npm start` and `npm test`: installs the locked dependencies on a fresh clone,
// so each quick-start command works on its own. Does nothing once they are installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  console.log('Installing dependencies (npm ci), once…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
