// Runs before `npm start` and `npm test`: installs the locked dependencies on a fresh clone, and
// builds the web app when its build is missing or older than its sources, so each quick-start
// command works on its own. Does nothing when both are up to date.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args) => {
  const r = spawnSync('npm', args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

if (!existsSync(path.join(root, 'node_modules/.package-lock.json'))) {
  console.log('Installing dependencies (npm ci), once…');
  run(['ci', '--no-audit', '--no-fund']);
}

/** The newest modification time under these paths (files and folders, recursively). */
function newest(paths) {
  let latest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const s = statSync(p);
    latest = Math.max(latest, s.mtimeMs);
    if (s.isDirectory()) latest = Math.max(latest, newest(readdirSync(p).map((f) => path.join(p, f))));
  }
  return latest;
}

const web = path.join(root, 'apps/web');
const built = path.join(web, 'dist/index.html');
const sources = ['src', 'public', 'index.html', 'vite.config.ts', 'precompress.ts', 'package.json'].map((f) =>
  path.join(web, f),
);
sources.push(path.join(root, 'packages/sdk/src'));
if (!existsSync(built) || newest(sources) > statSync(built).mtimeMs) {
  console.log('Building the web app (npm run build:web)…');
  run(['run', 'build:web', '--silent']);
}
