/**
 * Each command loads only what it uses. The certificate libraries are made to fail on
 * import (as @peculiar/x509 2.x did for every command while the CLI loaded the certs module
 * at start): every other command must still work, and `certs init` must be the one to fail.
 * Its own process (node --test runs each file in one), so no other test loaded them first.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
// Loads src/cli/main.ts on first use, so after the hook below.
import { runCli, tempDirForFile } from '../helpers/cli.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';

const CERT_LIBS = /^(@peculiar\/|node-forge)/;
const attempted: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    if (CERT_LIBS.test(specifier)) {
      attempted.push(specifier);
      throw new Error(`simulated broken certificate library: ${specifier}`);
    }
    return next(specifier, context);
  },
});
const dir = tempDirForFile('zg-lazy-');

describe('commands load what they use', () => {
  it('map validate, config check, route, completion, --version and help work without the certificate libraries', async () => {
    const v = await runCli(['map', 'validate', EXAMPLE_MAP_PATH]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /: ok \(version 1, 100 shards/);

    const cfg = join(dir(), 'gw.yaml');
    await writeFile(
      cfg,
      `idc: hz-1\nlisteners: [{ name: web, protocol: http, port: 8080 }]\nzonemap: { file: ${EXAMPLE_MAP_PATH} }\n`,
    );
    const c = await runCli(['config', 'check', '-c', cfg]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /configuration ok \(zone map from file\)/);

    const r = await runCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'hz-1',
      '--uid',
      '10000042',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { zone: string }).zone, 'rz04');

    assert.equal((await runCli(['completion', 'bash'])).code, 0);
    const version = (
      JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
    assert.match(
      (await runCli(['--version'])).stdout,
      new RegExp(`^zonegate ${version.replaceAll('.', '\\.')} `),
    );
    assert.equal((await runCli(['--help'])).code, 0);
    assert.deepEqual(attempted, [], 'no command above touched the certificate libraries');
  });

  it('certs init is the command that needs them, and reports their failure', async () => {
    const r = await runCli(['certs', 'init', join(dir(), 'certs')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /simulated broken certificate library/);
    assert.ok(attempted.length > 0);
  });
});
