#!/usr/bin/env node
// Runs every test file under test/ with node:test through tsx. Node 20's --test does not
// expand globs nor find .ts files by itself, so we list them here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = walk('test', []).sort();
// test/package packs the tarball and installs it (npm ci, ~30-50 s): .ci/run runs it by
// name (`node scripts/run-tests.mjs test/package`), the default run leaves it out.
const slow = (f) => f.startsWith(join('test', 'package'));
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
else files = files.filter((f) => !slow(f));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// A hung test must fail rather than eat CI's whole budget.
const timeoutMs = process.env.TEST_TIMEOUT_MS ?? '180000';
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
