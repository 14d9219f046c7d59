import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commands } from '../../src/cli/commands/index.js';
import { exec } from '../helpers/child-processes.js';
import { runCli, tempDirForFile } from '../helpers/cli.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';

/** A command that must succeed: what it printed (stdout, then stderr). */
async function ok(file: string, args: string[], input?: string): Promise<string> {
  const r = await exec(file, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

const dir = tempDirForFile('zg-habits-');

describe('zonegate CLI habits', () => {
  it('-V and --version print the version', async () => {
    const a = await runCli(['-V']);
    const b = await runCli(['--version']);
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, /^zonegate \d+\.\d+\.\d+ \(node v\d+/);
  });

  it('bash completion, generated from the command table, completes every command and its options', async () => {
    const script = join(dir(), 'zonegate.bash');
    await writeFile(script, (await runCli(['completion', 'bash'])).stdout);
    // One bash run answers every query: each line is the words typed, the last one partial.
    const queries = [
      ['zonegate', ''],
      ...commands.map((c) => ['zonegate', ...c.name.split(' ').slice(0, -1), '']),
      ['zonegate', 'map', 'diff', 'f.yaml', '--js'],
      ['zonegate', 'config', 'check', '-'],
    ];
    const body = queries
      .map(
        (q) =>
          `COMP_WORDS=(${q.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${q.length - 1}; COMPREPLY=(); _zonegate; echo "\${COMPREPLY[*]}"`,
      )
      .join('\n');
    const lines = (await ok('bash', ['-c', `source ${script}\n${body}`])).split('\n');
    const top = lines[0]!.split(' ');
    for (const c of commands) assert.ok(top.includes(c.name.split(' ')[0]!), `top level offers ${c.name}`);
    commands.forEach((c, i) => {
      const words = c.name.split(' ');
      assert.ok(lines[i + 1]!.split(' ').includes(words.at(-1)!), `${c.name}: got '${lines[i + 1]}'`);
    });
    assert.equal(lines[commands.length + 1], '--json');
    assert.deepEqual(lines[commands.length + 2]!.split(' ').sort(), ['--config', '--help', '--json', '-c']);
    assert.match((await runCli(['completion', 'zsh'])).stdout, /^#compdef zonegate\n[\s\S]*bashcompinit/);
    assert.equal((await runCli(['completion', 'fish'])).code, 2);
  });

  it('config check lists every problem without binding a port, and exits 2', async () => {
    const cfg = join(dir(), 'bad.yaml');
    // The map is found relative to the config's folder; the cert, the cookie secret and the
    // admin token are missing, and the map has no IDC named nowhere-1.
    await writeFile(join(dir(), 'map.yaml'), await ok('cat', [EXAMPLE_MAP_PATH]));
    await writeFile(
      cfg,
      'idc: nowhere-1\n' +
        'listeners:\n  - { name: web, protocol: http, port: 1 }\n' +
        '  - { name: tls, protocol: https, port: 2, tls: { cert: missing.pem, key: missing-key.pem } }\n' +
        'zonemap: { file: map.yaml }\n' +
        'identity: { cookie: { keys: [{ id: k1, secretFile: missing.secret }] } }\n' +
        'admin: { tokenFile: missing.token }\n',
    );
    const r = await runCli(['config', 'check', '-c', cfg]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /FAIL zone map file .*map\.yaml: the config's idc nowhere-1 is not in zone map version 1/,
    );
    assert.match(r.stderr, /FAIL listener tls tls: cannot read certificate .*missing\.pem/);
    assert.match(r.stderr, /FAIL cookie keys: .*missing\.secret/);
    assert.match(r.stderr, /FAIL admin token: .*missing\.token/);
    assert.match(r.stderr, /4 problems; start would refuse this configuration/);
    const j = await runCli(['config', 'check', '-c', cfg, '--json']);
    const report = JSON.parse(j.stdout) as { ok: boolean; zonemapSource: string; items: { ok: boolean }[] };
    assert.equal(report.ok, false);
    assert.equal(report.zonemapSource, 'file');
    assert.equal(report.items.filter((i) => !i.ok).length, 4);
    const schema = join(dir(), 'schema.yaml');
    await writeFile(
      schema,
      'idc: hz-1\nlisteners: [{ name: web, protocol: htp, port: 99999 }]\nzonemap: {}\n',
    );
    const s = await runCli(['config', 'check', '-c', schema]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /FAIL config: listeners\[0\]\.protocol/);
    assert.match(s.stderr, /FAIL config: listeners\[0\]\.port: must be <= 65535/);
  });

  it('map validate --json reports each file', async () => {
    const bad = join(dir(), 'bad-map.yaml');
    await writeFile(bad, 'version: 1\nshards: 0\n');
    const r = await runCli(['map', 'validate', EXAMPLE_MAP_PATH, bad, '--json']);
    assert.equal(r.code, 2);
    const [good, wrong] = JSON.parse(r.stdout) as { ok: boolean; shards?: number; problems: unknown[] }[];
    assert.equal(good?.ok, true);
    assert.equal(good?.shards, 100);
    assert.equal(wrong?.ok, false);
    assert.ok((wrong?.problems.length ?? 0) > 0);
  });

  it('certs init --json lists the files, and openssl reads the PKCS#12 with a key matching its cert', async () => {
    const out = join(dir(), 'certs');
    const r = await runCli(['certs', 'init', out, '--uid', '777', '--p12-password', 'pw', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as { files: Record<string, string> }).files;
    const p12 = files['clientP12']!;
    const info = await ok('openssl', ['pkcs12', '-info', '-in', p12, '-passin', 'pass:pw', '-noenc']);
    assert.match(info, /MAC: sha1, Iteration 2048/);
    assert.match(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    assert.match(info, /friendlyName: zonegate uid 777/);
    assert.match(info, /subject=CN ?= ?777/);
    const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(info)?.[0] ?? '';
    const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(info)?.[0] ?? '';
    assert.equal(
      await ok('openssl', ['pkey', '-pubout'], key),
      await ok('openssl', ['x509', '-noout', '-pubkey'], cert),
    );
    await assert.rejects(ok('openssl', ['pkcs12', '-info', '-in', p12, '-passin', 'pass:wrong', '-noenc']));
  });
});
