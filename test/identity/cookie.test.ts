import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CookieKeyError, CookieKeyring, decodeCookieUnverified } from '../../src/identity/cookie.js';

const NOW = 1_800_000_000;
const DAY = 86400;

describe('ldc cookie', () => {
  it('round-trips uid and zone, signed by the newest key', async () => {
    const ring = await CookieKeyring.create([
      { id: 'k2', secret: 'second-secret-0123456789' },
      { id: 'k1', secret: 'first-secret-0123456789' },
    ]);
    const value = await ring.sign({ uid: '10000042', zone: 'rz04', issuedAtSec: NOW });
    assert.match(value, /^k2\.1800000000\.rz04\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await ring.verify(value, NOW + 10, DAY), {
      ok: true,
      uid: '10000042',
      zone: 'rz04',
      issuedAtSec: NOW,
      keyId: 'k2',
    });
  });

  it('verifies cookies signed by an older key after rotation, and refuses retired keys', async () => {
    const old = await CookieKeyring.create([{ id: 'k1', secret: 'first-secret-0123456789' }]);
    const value = await old.sign({ uid: 'alice', zone: 'rz01', issuedAtSec: NOW });
    const rotated = await CookieKeyring.create([
      { id: 'k2', secret: 'second-secret-0123456789' },
      { id: 'k1', secret: 'first-secret-0123456789' },
    ]);
    assert.equal((await rotated.verify(value, NOW, DAY)).ok, true);
    const retired = await CookieKeyring.create([{ id: 'k2', secret: 'second-secret-0123456789' }]);
    assert.deepEqual(await retired.verify(value, NOW, DAY), { ok: false, reason: 'unknown-key' });
  });

  it('refuses a tampered uid, zone, time or signature', async () => {
    const ring = await CookieKeyring.create([{ id: 'k1', secret: 'first-secret-0123456789' }]);
    const value = await ring.sign({ uid: '10000042', zone: 'rz04', issuedAtSec: NOW });
    const [kid, iat, zone, uid, mac] = value.split('.') as [string, string, string, string, string];
    const evilUid = Buffer.from('10000043').toString('base64url');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const forged of [
      [kid, iat, zone, evilUid, mac],
      [kid, iat, 'rz05', uid, mac],
      [kid, String(NOW + 1), zone, uid, mac],
      [kid, iat, zone, uid, flip(mac)],
    ]) {
      assert.deepEqual(await ring.verify(forged.join('.'), NOW, DAY), { ok: false, reason: 'bad-signature' });
    }
  });

  it('refuses expired cookies and cookies from the future', async () => {
    const ring = await CookieKeyring.create([{ id: 'k1', secret: 'first-secret-0123456789' }]);
    const value = await ring.sign({ uid: 'u', zone: 'rz00', issuedAtSec: NOW });
    assert.deepEqual(await ring.verify(value, NOW + DAY + 1, DAY), { ok: false, reason: 'expired' });
    assert.deepEqual(await ring.verify(value, NOW - 3600, DAY), { ok: false, reason: 'expired' });
  });

  it('never throws on garbage, and calls it malformed', async () => {
    const ring = await CookieKeyring.create([{ id: 'k1', secret: 'first-secret-0123456789' }]);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (junk) => {
        const v = await ring.verify(junk, NOW, DAY);
        assert.equal(v.ok, false);
      }),
      { numRuns: 500 },
    );
    assert.deepEqual(await ring.verify('x'.repeat(5000), NOW, DAY), { ok: false, reason: 'malformed' });
    assert.equal(decodeCookieUnverified('a.b.c'), null);
  });

  it('carries any uid, including non-ASCII ones', async () => {
    const ring = await CookieKeyring.create([{ id: 'k1', secret: 'first-secret-0123456789' }]);
    for (const uid of ['用户42', 'a.b.c', 'x=y; z', '😀']) {
      const v = await ring.verify(await ring.sign({ uid, zone: 'rz00', issuedAtSec: NOW }), NOW, DAY);
      assert.ok(v.ok && v.uid === uid, uid);
    }
  });

  it('refuses weak or duplicate keys with a reason', async () => {
    await assert.rejects(CookieKeyring.create([]), CookieKeyError);
    await assert.rejects(CookieKeyring.create([{ id: 'k1', secret: 'short' }]), /shorter than 16 bytes/);
    await assert.rejects(
      CookieKeyring.create([
        { id: 'k1', secret: 'first-secret-0123456789' },
        { id: 'k1', secret: 'other-secret-0123456789' },
      ]),
      /listed twice/,
    );
  });
});
