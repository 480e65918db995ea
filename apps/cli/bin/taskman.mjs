#!/usr/bin/env node
// The `taskman` command: runs the bundle, dist/taskman.mjs. In a checkout of the repository
// (`npx taskman`), the bundle is built first when it is missing or older than its sources (esbuild,
// a fraction of a second, once); an installed package has only the bundle.
import { existsSync, readdirSync, statSync } from 'node:fs';

const here = new URL('../', import.meta.url);
const bundle = new URL('dist/taskman.mjs', here);
const builder = new URL('build.mjs', here);

/** The newest modification time of the files under a folder. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) latest = Math.max(latest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  return latest;
}

if (existsSync(builder)) {
  const sources = Math.max(newest(new URL('src', here)), newest(new URL('../../packages/sdk/src', here)));
  if (!existsSync(bundle) || sources > statSync(bundle).mtimeMs) await import(builder.href);
}
await import(bundle.href);
