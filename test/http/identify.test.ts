import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CookieKeyring, Identifier } from '../../src/identity/index.js';

const uidPattern = /^[A-Za-z0-9._:@-]{1,128}$/;

describe('identity order and the verified-cookie cache', () => {
  it('prefers the header, then a valid cookie, then the certificate', async () => {
    const keyring = await CookieKeyring.create([{ id: 'k1', secret: 'identify-secret-0123456789' }]);
    const id = new Identifier({ keyring, maxAgeSec: 3600, cacheSize: 10, uidPattern });
    const cookie = await keyring.sign({ uid: '77', zone: 'rz07' });
    assert.deepEqual(id.identify('42', cookie, '99'), { uid: '42', source: 'header' });
    // First sight of a cookie costs an async HMAC check; the same value then answers synchronously.
    const first = id.identify(undefined, cookie, '99');
    assert.ok(first instanceof Promise);
    assert.deepEqual(await first, { uid: '77', source: 'cookie' });
    assert.deepEqual(id.identify(undefined, cookie, '99'), { uid: '77', source: 'cookie' });
    assert.deepEqual(id.identify(undefined, undefined, '99'), { uid: '99', source: 'cert' });
    assert.deepEqual(id.identify('bad uid with spaces', undefined, null), { uid: null, source: 'none' });
  });

  it('never caches or trusts a tampered or expired cookie', async () => {
    const keyring = await CookieKeyring.create([{ id: 'k1', secret: 'identify-secret-0123456789' }]);
    const rejected: string[] = [];
    const id = new Identifier({
      keyring,
      maxAgeSec: 60,
      cacheSize: 10,
      uidPattern,
      onCookieRejected: (r) => rejected.push(r),
    });
    const good = await keyring.sign({ uid: '77', zone: 'rz07' });
    const tampered = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    assert.deepEqual(await id.identify(undefined, tampered, null), { uid: null, source: 'none' });
    const again = id.identify(undefined, tampered, null);
    assert.ok(again instanceof Promise, 'a bad cookie is checked again, never cached');
    // Awaited before the next check: its rejection is counted when the HMAC check ends, which
    // on a loaded machine can be after the expired cookie's.
    assert.deepEqual(await again, { uid: null, source: 'none' });
    const old = await keyring.sign({
      uid: '77',
      zone: 'rz07',
      issuedAtSec: Math.floor(Date.now() / 1000) - 120,
    });
    assert.deepEqual(await id.identify(undefined, old, null), { uid: null, source: 'none' });
    assert.deepEqual(rejected, ['bad-signature', 'bad-signature', 'expired']);
  });
});
