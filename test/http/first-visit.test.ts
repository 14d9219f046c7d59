import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DemoAnswer } from '../../src/gateway/demo-upstreams.js';
import { curl } from '../helpers/http-client.js';
import { busOf, startHarness, type Harness } from './harness.js';

function answer(body: string): DemoAnswer {
  return JSON.parse(body) as DemoAnswer;
}

describe('the seven steps of a first visit, with curl as the browser', () => {
  let hz1: Harness;
  let hz2: Harness;
  const rejected: string[] = [];
  const hz2Served: string[] = [];
  before(async () => {
    // Gateway hz-2 first: gateway hz-1 forwards hz-2's users through it (crossIdc: gateway).
    // hz-2 would itself send sh-1's users to a peer that is down (port 1): a second hop would fail.
    hz2 = await startHarness({
      idc: 'hz-2',
      config: { crossIdc: 'gateway' },
      change: (d) => {
        d.idcs!['sh-1']!.gateways = ['127.0.0.1:1'];
      },
      events: busOf((b) => b.requestDone.subscribe((e) => hz2Served.push(`${e.zone} ${e.reason}`))),
    });
    const peer = hz2.gw.address('web');
    hz1 = await startHarness({
      upstreams: hz2.ups,
      config: { crossIdc: 'gateway' },
      change: (d) => {
        d.idcs!['hz-2']!.gateways = [`127.0.0.1:${peer.port}`];
      },
      events: busOf((b) => b.cookieRejected.subscribe((e) => rejected.push(e.reason))),
    });
  });
  after(async () => {
    await hz1.close();
    await hz2.close();
    await hz2.ups.close();
  });

  it('pins a user by cookie after login and forwards once through the peer gateway of the zone’s IDC', async () => {
    const jar = join(mkdtempSync(join(tmpdir(), 'zg-jar-')), 'cookies.txt');
    // 1–2. anonymous: a weighted RZone of this IDC.
    const anon = await curl(['-c', jar, '-b', jar, `${hz1.url}/`]);
    assert.equal(anon.status, 200);
    assert.ok(['rz00', 'rz01'].includes(answer(anon.body).zone));
    assert.equal(anon.setCookies.length, 0);
    // 4–5. the upstream names the user: the gateway strips x-ldc-uid and sets the signed cookie.
    const login = await curl(['-c', jar, '-b', jar, `${hz1.url}/login?uid=1234`]);
    assert.equal(login.status, 200);
    assert.equal(login.headers['x-ldc-uid'], undefined);
    assert.equal(login.setCookies.length, 1);
    const cookie = login.setCookies[0]!;
    assert.match(cookie, /^ldc=k1\.\d+\.rz03\./);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Max-Age=2592000/);
    // 6–7. the cookie alone routes: uid 1234 → shard 34 → rz03 in hz-2, via hz-2's gateway, once.
    const next = await curl(['-c', jar, '-b', jar, `${hz1.url}/orders`]);
    assert.equal(next.status, 200);
    const a = answer(next.body);
    assert.equal(a.zone, 'rz03');
    assert.equal(a.uid, '1234');
    // The peer gateway kept the client address hz-1 recorded and did not hop again.
    assert.equal(a.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(a.headers['x-ldc-hop'], undefined);
    assert.ok((hz2.ups.hits.get('rz03/blue') ?? 0) + (hz2.ups.hits.get('rz03/green') ?? 0) >= 1);
    assert.ok(hz2Served.includes('rz03 uid-shard'), hz2Served.join('; '));
  });

  it('never sends a hopped request through a second gateway', async () => {
    // uid 45 → shard 45 → rz04 in sh-1. Sent to hz-2 as a hop from a peer (127.0.0.1 is one).
    const r = await curl(['-H', 'x-ldc-hop: hz-1', '-H', 'x-ldc-uid: 45', `${hz2.url}/x`]);
    assert.equal(r.status, 200);
    assert.equal(answer(r.body).zone, 'rz04');
    // Without the hop header hz-2 uses its (dead) sh-1 peer: proof the peer path is live.
    const viaPeer = await curl(['-H', 'x-ldc-uid: 45', `${hz2.url}/x`]);
    assert.equal(viaPeer.status, 502);
    assert.equal(viaPeer.headers['x-ldc-reason'], 'ZG_ERR_UPSTREAM_FAILED');
  });

  it('ignores a tampered cookie (routes as anonymous) and counts it', async () => {
    const login = await curl([`${hz1.url}/login?uid=1234`]);
    const value = /^ldc=([^;]+)/.exec(login.setCookies[0] ?? '')![1]!;
    // Claim another uid while keeping the old signature.
    const parts = value.split('.');
    parts[3] = Buffer.from('5555').toString('base64url');
    const before = rejected.length;
    const r = await curl(['-b', `ldc=${parts.join('.')}`, `${hz1.url}/orders`]);
    assert.equal(r.status, 200);
    const a = answer(r.body);
    assert.equal(a.uid, null);
    assert.ok(['rz00', 'rz01'].includes(a.zone));
    assert.deepEqual(rejected.slice(before), ['bad-signature']);
    // A cookie signed with a key this gateway does not know is ignored the same way.
    const foreign = value.replace(/^k1\./, 'k9.');
    const r2 = await curl(['-b', `ldc=${foreign}`, `${hz1.url}/orders`]);
    assert.equal(answer(r2.body).uid, null);
    assert.equal(rejected.at(-1), 'unknown-key');
  });
});
