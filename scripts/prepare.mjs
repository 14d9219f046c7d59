#!/usr/bin/env node
// npm runs `prepare` after `npm ci` / `npm install` in a checkout and during `npm pack`.
// - Development install (TypeScript present): build dist/ unless it is newer than every source
//   file (`npm pack` right after `npm run build` then costs nothing).
// - Production install from a checkout (`npm ci --omit=dev`: no compiler): do not fail; dist/
//   comes from a build stage or from the tarball (`npm pack` ships it).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  const has = existsSync('dist/cli/main.js')
    ? 'dist/ is used as it is'
    : 'dist/ is missing: `npm run build` in a full install';
  console.log(`zonegate prepare: no TypeScript (production install): ${has}`);
  process.exit(0);
}

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}
// The console page is bundled into dist/console-web by the same build.
const built =
  existsSync('dist/cli/main.js') && existsSync('dist/console-web')
    ? Math.min(statSync('dist/cli/main.js').mtimeMs, newest('dist/console-web'))
    : -1;
const sources = Math.max(newest('src'), newest('tsconfig.json'), newest('tsconfig.build.json'));
if (built >= sources) {
  console.log('zonegate prepare: dist/ is newer than src/, not rebuilt');
  process.exit(0);
}
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const page = spawnSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'inherit' });
process.exit(page.status ?? 1);
