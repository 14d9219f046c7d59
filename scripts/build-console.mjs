#!/usr/bin/env node
// Bundles the drill console page (src/console/web) into dist/console-web with esbuild: one
// script, one stylesheet, one HTML file, all served by `zonegate console` itself (no CDN).
// `npm run build` runs it after tsc; the installed package ships the result in dist/.
// Usage: node scripts/build-console.mjs [OUTDIR]   (default dist/console-web)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = process.argv[2] === undefined ? `${root}dist/console-web` : resolve(process.argv[2]);
mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
};
await build({
  ...common,
  entryPoints: ['src/console/web/main.tsx'],
  outfile: `${out}/console.js`,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
await build({
  ...common,
  entryPoints: ['src/console/web/styles.css'],
  outfile: `${out}/console.css`,
});
copyFileSync(`${root}src/console/web/index.html`, `${out}/index.html`);
