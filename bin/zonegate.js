#!/usr/bin/env node
// The installed entry point runs the compiled CLI. dist/ ships in the npm tarball and the
// image; a checkout gets it from `npm run build` (a full `npm ci` runs it through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(
    'zonegate: dist/ is missing: run `npm run build` in a full install, or install the npm tarball',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
