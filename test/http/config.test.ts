import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, validateConfig } from '../../src/core/config.js';
import { InvalidConfigError } from '../../src/core/errors.js';

const minimal = {
  idc: 'hz-1',
  listeners: [{ name: 'web', protocol: 'http', port: 8080 }],
  zonemap: { file: 'map.yaml' },
};

function problems(input: unknown): string[] {
  try {
    validateConfig(input);
  } catch (err) {
    assert.ok(err instanceof InvalidConfigError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('gateway config', () => {
  it('fills defaults from the schema, resolves paths against the config folder, and freezes the result', () => {
    const c = validateConfig(minimal, { baseDir: '/etc/zonegate' });
    assert.equal(c.crossIdc, 'direct');
    assert.equal(c.timeouts.upstreamResponseTimeoutMs, 30000);
    assert.equal(c.identity.cookie.name, 'ldc');
    assert.equal(c.listeners[0]!.host, '0.0.0.0');
    assert.equal(c.listeners[0]!.backlog, 4096);
    assert.equal(c.zonemap.file, '/etc/zonegate/map.yaml');
    assert.ok(Object.isFrozen(c.timeouts));
    assert.throws(() => {
      (c.timeouts as { idleTimeoutMs: number }).idleTimeoutMs = 1;
    }, TypeError);
    // The input is not modified.
    assert.equal((minimal as { crossIdc?: string }).crossIdc, undefined);
  });

  it('lists every schema problem at once, with dotted paths', () => {
    assert.deepEqual(
      problems({
        idc: 'hz-1',
        listeners: [{ name: 'web', protocol: 'htp', port: 70000, tls: 3, colour: 'x', backlog: 0 }],
        zonemap: { file: 'm' },
        timeouts: { idleTimeout: 5 },
      }).sort(),
      [
        'listeners[0].backlog: must be >= 1',
        'listeners[0].colour: is not a known property',
        'listeners[0].port: must be <= 65535',
        'listeners[0].protocol: must be one of http, https, mqtt, mqtts',
        'listeners[0].tls: must be an object',
        'timeouts.idleTimeout: is not a known property',
      ],
    );
  });

  it('checks what spans fields: tls per protocol, one zone map source, cookie key secrets, duplicate names', () => {
    assert.deepEqual(
      problems({
        idc: 'hz-1',
        listeners: [
          { name: 'a', protocol: 'https', port: 443 },
          { name: 'a', protocol: 'http', port: 443, tls: { cert: 'c', key: 'k' } },
          { name: 'b', protocol: 'https', port: 8443, tls: { cert: 'c', key: 'k', requestCert: true } },
        ],
        zonemap: {},
        identity: {
          cookie: { keys: [{ id: 'k1' }, { id: 'k1', secret: '0123456789abcdef' }] },
          uidPattern: '(',
        },
      }),
      [
        'listeners[0].tls: is required for https',
        'listeners[1].name: duplicate listener name "a"',
        'listeners[1].port: 0.0.0.0:443 is used by another listener',
        'listeners[1].tls: only https and mqtts listeners take tls (this one is http)',
        'listeners[2].tls.ca: is required when requestCert is true',
        'zonemap: set exactly one of file or redis',
        'identity.cookie.keys[0]: set exactly one of secret or secretFile',
        'identity.cookie.keys[1].id: duplicate key id "k1"',
        'identity.uidPattern: invalid regular expression with the u (Unicode) flag: Invalid regular expression: /(/u: Unterminated group',
      ],
    );
  });

  it('accepts the commented example config', async () => {
    const c = await loadConfigFile(
      fileURLToPath(new URL('../../policies/examples/gateway.yaml', import.meta.url)),
    );
    assert.equal(c.listeners.length, 2);
    assert.match(c.listeners[1]!.tls!.cert, /certs\/dev\/server\.pem$/);
  });
});
