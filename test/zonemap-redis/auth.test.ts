/**
 * Redis credentials and TLS, against real redis-server processes: a password from a file for
 * an ACL user (config and CLI flags alike), and TLS with a client certificate.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { RedisZoneMapSource } from '../../src/zonemap/stores/index.js';
import { testCerts } from '../helpers/certs.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';
import { freePort } from '../helpers/child-processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

let dir = '';
let acl: RedisServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zg-redis-auth-'));
  // The default user is off: only `app`, with its password, gets in.
  acl = await startRedis({
    args: ['--user', 'default', 'off', '--user', 'app', 'on', '>app-secret-1', '~*', '&*', '+@all'],
  });
  await writeFile(join(dir, 'app.password'), 'app-secret-1\n');
  await writeFile(join(dir, 'wrong.password'), 'not-it\n');
});
after(async () => {
  await acl.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Redis ACL user with a password file', () => {
  it('CLI store flags: map apply --json writes with the ACL user; a wrong or missing password is refused with the reason', async () => {
    const auth = [
      '--redis',
      acl.url,
      '--redis-user',
      'app',
      '--redis-password-file',
      join(dir, 'app.password'),
    ];
    const r = await run(['map', 'apply', EXAMPLE_MAP_PATH, ...auth, '--reason', 'first', '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as {
      written: boolean;
      toVersion: number;
      store: string;
      reason: string;
    };
    assert.equal(report.written, true);
    assert.equal(report.toVersion, 1);
    assert.equal(report.reason, 'first');
    assert.match(report.store, /as user app/);
    assert.doesNotMatch(r.out, /app-secret/);

    // --json on the other printing commands: a refused drill, map diff.
    const refused = await run(['zone', 'down', 'rz03', ...auth, '--max-move-percent', '1', '--json']);
    assert.equal(refused.code, 2);
    const rj = JSON.parse(refused.out) as {
      refused: boolean;
      written: boolean;
      error: string;
      violations: string[];
    };
    assert.deepEqual([rj.refused, rj.written, rj.error], [true, false, 'ZG_ERR_DRILL_REFUSED']);
    assert.match(rj.violations[0] ?? '', /10 of 100 shards/);
    const diff = await run(['map', 'diff', EXAMPLE_MAP_PATH, ...auth, '--json']);
    assert.equal(diff.code, 0, diff.err);
    const dj = JSON.parse(diff.out) as {
      storeVersion: number;
      conflict: boolean;
      blastRadius: { movedShards: number };
    };
    assert.deepEqual([dj.storeVersion, dj.conflict, dj.blastRadius.movedShards], [1, false, 0]);

    const noUser = await run(['map', 'show', '--redis', acl.url, '--json']);
    assert.equal(noUser.code, 1);
    assert.match(noUser.err, /NOAUTH|NOPERM|WRONGPASS|disabled/i);
    const wrong = await run([
      'map',
      'show',
      ...auth.slice(0, 4),
      '--redis-password-file',
      join(dir, 'wrong.password'),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /WRONGPASS/);
    assert.doesNotMatch(wrong.err, /not-it/);
    const missing = await run([
      'map',
      'show',
      ...auth.slice(0, 4),
      '--redis-password-file',
      join(dir, 'nope'),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /Redis passwordFile .*nope: cannot read/);
  });

  it('config: a gateway source and config check use zonemap.redis.username / passwordFile (relative to the config)', async () => {
    const cfg = join(dir, 'gw.yaml');
    await writeFile(
      cfg,
      'idc: hz-1\nlisteners: [{ name: web, protocol: http, port: 1 }]\n' +
        `zonemap: { redis: { url: '${acl.url}', username: app, passwordFile: app.password, snapshotFile: snap.json } }\n`,
    );
    const c = await run(['config', 'check', '-c', cfg]);
    assert.equal(c.code, 0, c.err);
    assert.match(
      c.out,
      /ok {3}zone map in redis redis:\/\/127\.0\.0\.1:\d+ as user app \(prefix zonegate\): reachable; version 1/,
    );
    assert.match(c.out, /zone map from redis/);
    const source = new RedisZoneMapSource({
      redis: {
        url: acl.url,
        username: 'app',
        passwordFile: join(dir, 'app.password'),
        connectTimeoutMs: 1000,
      },
      idc: 'hz-1',
      snapshotFile: join(dir, 'snap.json'),
    });
    try {
      assert.equal((await source.start()).version, 1);
    } finally {
      await source.close();
    }
    await writeFile(
      cfg,
      (await import('node:fs')).readFileSync(cfg, 'utf8').replace('app.password', 'wrong.password'),
    );
    const bad = await run(['config', 'check', '-c', cfg]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /FAIL zone map in redis .*WRONGPASS/);
  });
});

describe('Redis over TLS', () => {
  let tls: RedisServer;
  let tlsPort = 0;
  before(async () => {
    const c = await testCerts();
    tlsPort = await freePort();
    tls = await startRedis({
      args: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        c.serverCert,
        '--tls-key-file',
        c.serverKey,
        '--tls-ca-cert-file',
        c.ca,
        '--tls-auth-clients',
        'yes',
      ],
    });
  });
  after(async () => {
    await tls.stop();
  });

  it('writes and reads over TLS with a client certificate; without it the handshake is refused', async () => {
    const c = await testCerts();
    const url = `redis://127.0.0.1:${tlsPort}`;
    const flags = [
      '--redis',
      url,
      '--redis-tls-ca',
      c.ca,
      '--redis-tls-cert',
      c.clientCert,
      '--redis-tls-key',
      c.clientKey,
    ];
    const w = await run(['map', 'apply', EXAMPLE_MAP_PATH, ...flags, '--json']);
    assert.equal(w.code, 0, w.err);
    assert.match((JSON.parse(w.out) as { store: string }).store, /, tls|tls \(prefix/);
    const s = await run(['map', 'show', ...flags, '--json']);
    assert.equal(s.code, 0, s.err);
    assert.equal((JSON.parse(s.out) as { version: number }).version, 1);
    const noCert = await run(['map', 'show', '--redis', url, '--redis-tls-ca', c.ca]);
    assert.equal(noCert.code, 1);
    assert.match(noCert.err, /ZG_ERR_ZONEMAP_STORE_UNAVAILABLE/);
    const wrongName = await run(['map', 'show', ...flags, '--redis-tls-servername', 'other.test']);
    assert.equal(wrongName.code, 1);
    assert.match(wrongName.err, /other\.test|altnames|Hostname/i);
  });
});
