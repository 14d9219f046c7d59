/**
 * The identity config's one pattern convention (checked at config load, field named), the uid
 * header's encoding (percent-encoded UTF-8, both ways), and one uid hashing the same whatever
 * path it came by.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidConfigError } from '../../src/core/errors.js';
import { validateConfig } from '../../src/core/config.js';
import {
  CookieKeyring,
  compileUidPattern,
  encodeUidHeader,
  identifyMqtt,
  pickUid,
  readUidHeader,
} from '../../src/identity/index.js';
import { MqttOptionsError, resolveMqttConfig } from '../../src/mqtt/index.js';
import { scanRequestHeaders } from '../../src/http/index.js';
import { shardOf, fnv1a32 } from '../../src/router/index.js';
import net from 'node:net';

const BASE = {
  idc: 'hz-1',
  listeners: [{ name: 'web', protocol: 'http', port: 0 }],
  zonemap: { file: 'map.yaml' },
};

function configProblems(identity: Record<string, unknown>): string[] {
  try {
    validateConfig({ ...BASE, identity });
    return [];
  } catch (err) {
    assert.ok(err instanceof InvalidConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

/** What Node hands over for a header whose bytes are `s` in UTF-8. */
function asNodeReadsIt(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

describe('one pattern convention for the identity config', () => {
  it('keeps the old forms working: named group uid, one numbered group, no group', () => {
    assert.deepEqual(
      configProblems({
        uidPattern: '^[A-Za-z0-9._:@-]{1,128}$',
        certUid: { from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' },
        mqtt: { source: 'clientId', pattern: '^(?<uid>[0-9]{1,20})(?:[-_:.].*)?$' },
      }),
      [],
    );
    const named = compileUidPattern('identity.mqtt.pattern', '^(?<uid>[0-9]{1,20})(?:[-_:.].*)?$');
    assert.equal(pickUid(named, '1234-phone'), '1234');
    const numbered = compileUidPattern('identity.certUid.pattern', '^urn:zonegate:uid:(.+)$');
    assert.equal(pickUid(numbered, 'urn:zonegate:uid:用户甲'), '用户甲');
    const whole = compileUidPattern('identity.uidPattern', '[0-9]+');
    assert.equal(pickUid(whole, 'ab12'), '12');
    assert.equal(pickUid(numbered, 'urn:other'), null);
  });

  it('refuses two capturing groups and escapes the u flag rejects, naming the field and the fix', () => {
    const problems = configProblems({
      uidPattern: '^\\:[a-z]+$',
      certUid: { from: 'cn', pattern: '^(cn)=(.+)$' },
      mqtt: { pattern: '^(?<uid>[0-9]+)-(phone|pad)$' },
    });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(
      problems[0]!,
      /^identity\.uidPattern: invalid regular expression with the u \(Unicode\) flag/,
    );
    assert.match(problems[0]!, /compiles without the u flag/);
    assert.match(problems[1]!, /^identity\.certUid\.pattern: has 2 capturing groups; .*\(\?:…\)/);
    assert.match(problems[2]!, /^identity\.mqtt\.pattern: has 2 capturing groups/);
    // The MQTT server's own options say the same.
    assert.throws(
      () => resolveMqttConfig({ uid: { pattern: '^(a)(b)$' } }),
      (e: unknown) => e instanceof MqttOptionsError && /capturing groups/.test(e.message),
    );
  });

  it('compiles with the u flag: . is one code point, \\p{L} is a letter', () => {
    const p = compileUidPattern('identity.mqtt.pattern', '^(\\p{L}{3})$');
    assert.equal(pickUid(p, '用户甲'), '用户甲');
    assert.equal(pickUid(compileUidPattern('x', '^(.)$'), '😀'), '😀');
  });
});

describe('the uid header: percent-encoded UTF-8', () => {
  it('forwards ASCII uids unchanged and everything else as %XX, which decodeURIComponent reverses', () => {
    assert.equal(encodeUidHeader('1234'), '1234');
    assert.equal(encodeUidHeader('alice@example.com'), 'alice@example.com');
    for (const uid of ['用户甲', 'José', 'a b', '100%', 'tab\there', '😀x']) {
      const v = encodeUidHeader(uid);
      assert.match(v, /^[\x21-\x7e]+$/, uid);
      assert.equal(decodeURIComponent(v), uid);
      // And the gateway reads its own encoding back (a peer gateway's hop).
      assert.deepEqual(readUidHeader(v), { ok: true, uid });
    }
    assert.equal(encodeUidHeader('用户甲'), '%E7%94%A8%E6%88%B7%E7%94%B2');
  });

  it('reads raw UTF-8 bytes as Node hands them over (latin1), and refuses what is not UTF-8', () => {
    assert.deepEqual(readUidHeader(asNodeReadsIt('用户甲')), { ok: true, uid: '用户甲' });
    assert.deepEqual(readUidHeader(asNodeReadsIt('José')), { ok: true, uid: 'José' });
    const notUtf8 = readUidHeader(Buffer.from([0x4a, 0x6f, 0x73, 0xe9]).toString('latin1'));
    assert.equal(notUtf8.ok, false);
    assert.equal(readUidHeader('%E7%94').ok, false);
    assert.equal(readUidHeader('12%4').ok, false);
  });

  it('the header scan decodes the uid once and keeps the refusal for the request check', () => {
    const ok = scanRequestHeaders(['X-LDC-UID', asNodeReadsIt('用户甲'), 'Host', 'h'], 'x-ldc-uid', 'ldc');
    assert.equal(ok.uid, '用户甲');
    assert.equal(ok.uidError, null);
    const bad = scanRequestHeaders(['x-ldc-uid', '\xff\xfe'], 'x-ldc-uid', 'ldc');
    assert.equal(bad.uid, undefined);
    assert.equal(bad.uidError?.code, 'ZG_ERR_UID_INVALID');
    assert.equal(bad.uidError?.httpStatus, 400);
  });
});

describe('one uid, one shard, by every path', () => {
  it('header, cookie and MQTT give the same string, hashed over its UTF-8 bytes', async () => {
    const keyring = await CookieKeyring.create([{ id: 'k1', secret: 'same-shard-secret-0123' }]);
    const pattern = compileUidPattern('identity.mqtt.pattern', '^(.+)$');
    const socket = new net.Socket();
    for (const uid of ['用户甲', 'José', '😀']) {
      const header = scanRequestHeaders(['x-ldc-uid', asNodeReadsIt(uid)], 'x-ldc-uid', 'ldc').uid;
      const cookie = await keyring.verify(await keyring.sign({ uid, zone: 'rz00' }), Date.now() / 1000, 60);
      const mqtt = identifyMqtt(
        { clientId: 'x', username: uid },
        socket,
        { source: 'username', anonymous: 'refuse' },
        pattern,
      );
      assert.equal(header, uid);
      assert.ok(cookie.ok);
      assert.equal(cookie.uid, uid);
      assert.deepEqual(mqtt, { uid, source: 'mqtt-username' });
      // FNV-1a over the UTF-8 bytes, as docs/design.md defines shard(uid).
      let h = 0x811c9dc5;
      for (const b of Buffer.from(uid, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
      assert.equal(fnv1a32(uid), h >>> 0);
      assert.equal(shardOf(uid, 100), (h >>> 0) % 100);
    }
    socket.destroy();
  });

  it('an MQTT name whose bytes were not UTF-8 (decoded as U+FFFD) carries no uid', () => {
    const pattern = compileUidPattern('identity.mqtt.pattern', '^(.+)$');
    const socket = new net.Socket();
    const r = identifyMqtt(
      { clientId: 'Jos\uFFFD' },
      socket,
      { source: 'clientId', anonymous: 'refuse' },
      pattern,
    );
    assert.deepEqual(r, { refused: 'clientId', message: 'client id does not carry a uid' });
    socket.destroy();
  });
});
