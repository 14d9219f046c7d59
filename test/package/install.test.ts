/**
 * The production install, as an operator does it: `npm pack`, then from the tarball alone and
 * npm's cache (no registry), `npm ci --omit=dev` and run the `zonegate` binary. The image's
 * build stage installs the same way (Dockerfile).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// npm run by `npm test` exports its own npm_* settings (lifecycle event, omit, ...): an
// operator's shell has none of them.
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')),
);

function run(cmd: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`, { cause: err }));
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

describe('npm package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zonegate-pack-'));
  const pkg = join(dir, 'package');
  let files: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(join(REPO_ROOT, 'dist/cli/main.js')),
      'dist/ missing: `npm run build` first (npm test does)',
    );
    // Lifecycle scripts run as for a release: prepack writes npm-shrinkwrap.json, prepare
    // finds dist/ newer than src/, postpack removes the shrinkwrap again.
    const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], REPO_ROOT);
    assert.equal(pack.code, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.ok(info);
    files = info.files.map((f) => f.path);
    const untar = await run('tar', ['-xzf', join(dir, info.filename), '-C', dir], dir);
    assert.equal(untar.code, 0, untar.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the compiled CLI, the schemas and a shrinkwrap, and no sources or tests', () => {
    for (const f of [
      'bin/zonegate.js',
      'dist/cli/main.js',
      'policies/config.schema.json',
      'npm-shrinkwrap.json',
    ])
      assert.ok(files.includes(f), `${f} in the tarball`);
    assert.deepEqual(
      files.filter((f) => /^(src|test|bench|helm)\//.test(f)),
      [],
    );
    assert.equal(
      existsSync(join(REPO_ROOT, 'npm-shrinkwrap.json')),
      false,
      'postpack removed the shrinkwrap',
    );
  });

  it('installs with npm ci --omit=dev from the tarball offline, and its zonegate runs', async () => {
    const ci = await run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], pkg);
    assert.equal(ci.code, 0, `${ci.stdout}\n${ci.stderr}`);
    // prepare has no compiler here and must say so rather than fail.
    assert.match(ci.stdout, /no TypeScript \(production install\): dist\/ is used as it is/);
    assert.equal(existsSync(join(pkg, 'node_modules/typescript')), false, 'no dev dependencies');
    assert.ok(existsSync(join(pkg, 'node_modules/pino')), 'production dependencies installed');

    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    const bin = join(pkg, manifest.bin.zonegate ?? 'missing');
    const ok = await run(
      process.execPath,
      [bin, 'map', 'validate', 'policies/examples/three-site-five-center.yaml'],
      pkg,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /three-site-five-center\.yaml: ok \(version \d+, 100 shards/);

    const bad = await run(process.execPath, [bin, 'map', 'validate', 'package.json'], pkg);
    assert.equal(bad.code, 2, 'an invalid map is exit 2');
    assert.match(bad.stdout + bad.stderr, /invalid/);
  });
});
