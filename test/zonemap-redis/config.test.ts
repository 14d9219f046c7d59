import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidConfigError } from '../../src/core/errors.js';
import { validateConfig } from '../../src/core/config.js';
import { REDIS_DEFAULTS } from '../../src/zonemap/stores/index.js';

const base = { idc: 'hz-1', listeners: [{ name: 'h', protocol: 'http', port: 0 }] };

function problems(redis: Record<string, unknown>): string[] {
  try {
    validateConfig({ ...base, zonemap: { redis } });
    return [];
  } catch (err) {
    assert.ok(err instanceof InvalidConfigError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('config zonemap.redis', () => {
  it('takes the same defaults as the store uses when a field is left out (one truth)', () => {
    const cfg = validateConfig({ ...base, zonemap: { redis: { url: 'redis://127.0.0.1:6380' } } });
    const r = cfg.zonemap.redis!;
    assert.deepEqual(
      {
        keyPrefix: r.keyPrefix,
        pollIntervalMs: r.pollIntervalMs,
        reportIntervalMs: r.reportIntervalMs,
        connectTimeoutMs: r.connectTimeoutMs,
      },
      { ...REDIS_DEFAULTS },
    );
  });

  it('fills in the defaults and resolves the snapshot path against the config folder', () => {
    const cfg = validateConfig(
      { ...base, zonemap: { redis: { url: 'redis://10.0.0.5:6380/0', snapshotFile: 'state/map.json' } } },
      { baseDir: '/etc/zonegate' },
    );
    assert.deepEqual(cfg.zonemap.redis, {
      url: 'redis://10.0.0.5:6380/0',
      snapshotFile: '/etc/zonegate/state/map.json',
      keyPrefix: 'zonegate',
      pollIntervalMs: 1000,
      reportIntervalMs: 5000,
      connectTimeoutMs: 2000,
    });
  });

  it('resolves the default snapshot file and the credential files against the config folder', () => {
    const cfg = validateConfig(
      {
        ...base,
        zonemap: {
          redis: {
            sentinels: [{ host: 'a', port: 26379 }],
            name: 'zg',
            username: 'app',
            passwordFile: 'secrets/redis',
            sentinelUsername: 'sent',
            sentinelPasswordFile: '/run/secrets/sentinel',
            tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', servername: 'redis.internal' },
          },
        },
      },
      { baseDir: '/etc/zonegate' },
    );
    const r = cfg.zonemap.redis!;
    assert.equal(r.snapshotFile, '/etc/zonegate/.zonegate/zonemap-snapshot.json');
    assert.equal(r.passwordFile, '/etc/zonegate/secrets/redis');
    assert.equal(r.sentinelPasswordFile, '/run/secrets/sentinel');
    assert.deepEqual(r.tls, {
      ca: '/etc/zonegate/ca.pem',
      cert: '/etc/zonegate/c.pem',
      key: '/etc/zonegate/k.pem',
      servername: 'redis.internal',
    });
  });

  it('refuses credentials that cannot work, naming the field', () => {
    assert.deepEqual(problems({ url: 'redis://:pw@a:1', passwordFile: 'f' }), [
      'zonemap.redis.passwordFile: the url already holds a password: set it in one place (passwordFile keeps it out of the config)',
    ]);
    assert.deepEqual(problems({ url: 'redis://a:1', sentinelPasswordFile: 'f' }), [
      'zonemap.redis.sentinelPasswordFile: only applies with sentinels',
    ]);
    assert.deepEqual(problems({ url: 'redis://a:1', tls: { cert: 'c.pem' } }), [
      'zonemap.redis.tls: set both cert and key (the client certificate), or neither',
    ]);
    assert.match(problems({ url: 'redis://a:1', tls: { bogus: 1 } })[0] ?? '', /tls\.bogus/);
  });

  it('refuses an ambiguous or incomplete store, naming the field', () => {
    assert.deepEqual(problems({ url: 'redis://a:1', cluster: [{ host: 'b', port: 2 }] }), [
      'zonemap.redis: set exactly one of url, sentinels (with name) or cluster',
    ]);
    assert.deepEqual(problems({ sentinels: [{ host: 'a', port: 26379 }] }), [
      'zonemap.redis.name: is required with sentinels (the master name)',
    ]);
    assert.match(problems({ url: 'redis://a:1', keyPrefix: '{x}' })[0] ?? '', /keyPrefix/);
    assert.deepEqual(problems({ sentinels: [{ host: 'a', port: 26379 }], name: 'zg' }), []);
  });
});
