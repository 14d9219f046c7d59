/**
 * Attacks on the listener before any protocol runs: PROXY headers from hosts that are not
 * the balancer, malformed and oversized PROXY headers, crowds of connections that never send
 * their first bytes. Each case ends with a normal client served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DemoAnswer, DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { encodeProxyHeader } from '../../src/listeners/index.js';
import {
  closedWithin,
  demoUpstreams,
  exchange,
  httpGet,
  rawConnect,
  rawConnections,
  startEdge,
  statusOf,
  until,
  type Edge,
} from './edge-fixture.js';

let ups: DemoUpstreams;
let edge: Edge;
before(async () => {
  ups = await demoUpstreams();
});
after(async () => {
  await ups.close();
});

const header = (src: string): Buffer =>
  encodeProxyHeader(1, { address: src, port: 40000 }, { address: '127.0.0.1', port: 80 });

/** A request through the `lvs` listener as the balancer would send it; the upstream's view. */
async function viaLvs(on: Edge = edge, src = '198.51.100.7'): Promise<DemoAnswer> {
  const s = await rawConnect(on.port('lvs'));
  const a = await exchange(
    s,
    Buffer.concat([header(src), Buffer.from(httpGet('/whoami', { 'x-ldc-uid': '4242' }, true))]),
  );
  assert.equal(statusOf(a.text), 200, a.text);
  return JSON.parse(a.text.slice(a.text.indexOf('\r\n\r\n') + 4)) as DemoAnswer;
}

describe('adversarial: PROXY protocol and connection floods', () => {
  before(async () => {
    edge = await startEdge(ups, {
      listeners: [
        // Behind LVS on this host: the header is believed from 127.0.0.1 only.
        {
          name: 'lvs',
          protocol: 'http',
          port: 0,
          host: '127.0.0.1',
          proxyProtocol: true,
          trustedProxies: ['127.0.0.1'],
        },
        // Balancers live on 10/8: a header from loopback is a forgery.
        {
          name: 'strict',
          protocol: 'http',
          port: 0,
          host: '127.0.0.1',
          proxyProtocol: true,
          trustedProxies: ['10.0.0.0/8'],
        },
        { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
      ],
      limits: { maxPendingConnections: 4 },
      timeouts: { proxyProtocolTimeoutMs: 30_000, headersTimeoutMs: 300 },
    });
  });
  after(async () => {
    await edge.close();
  });

  it('closes a PROXY header from a source outside trustedProxies before reading a byte, and counts it', async () => {
    const forged = await rawConnect(edge.port('strict'));
    const a = await exchange(
      forged,
      Buffer.concat([header('10.9.9.9'), Buffer.from(httpGet('/whoami', { 'x-ldc-uid': '4242' }))]),
    );
    assert.equal(a.closed, true);
    assert.equal(a.text, '');
    // The same from a second loopback address on the lvs listener (trusts 127.0.0.1 only).
    const other = await rawConnect(edge.port('lvs'), '127.0.0.2');
    const b = await exchange(other, Buffer.concat([header('10.9.9.9'), Buffer.from(httpGet('/whoami'))]));
    assert.equal(b.closed, true);
    assert.equal(b.text, '');
    assert.match(
      await edge.metricsText(),
      /zonegate_connections_refused_total\{protocol="http",reason="untrusted-proxy"\} 2/,
    );
    const ok = await viaLvs();
    assert.equal(ok.zone, 'rz04');
    assert.equal(ok.headers['x-forwarded-for'], '198.51.100.7');
  });

  it('serves a balancer connection while more silent sockets than maxPendingConnections wait for their PROXY header', async () => {
    const lvs = edge.gw.listeners.find((l) => l.name === 'lvs')!;
    const before = lvs.connectionCount();
    const silent = await rawConnections(4, edge.port('lvs'));
    await until(() => lvs.connectionCount() >= before + 4, 5000, 'the listener counting the silent sockets');
    assert.equal((await viaLvs()).zone, 'rz04');
    await closedWithin(silent[0]!, 5000, 'the oldest silent socket');
    for (const s of silent) s.destroy();
  });
});

// Config any earlier Zonegate accepts, so these cases also ran (and passed) before the edge work.
describe('adversarial: PROXY header bounds and silent HTTP clients (pass before the edge work too)', () => {
  let plainEdge: Edge;
  before(async () => {
    plainEdge = await startEdge(ups, {
      listeners: [
        { name: 'lvs', protocol: 'http', port: 0, host: '127.0.0.1', proxyProtocol: true },
        { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
      ],
      timeouts: { headersTimeoutMs: 300 },
    });
  });
  after(async () => {
    await plainEdge.close();
  });

  it('closes malformed and oversized PROXY headers without answering', async () => {
    const attacks: Buffer[] = [
      Buffer.from(`PROXY TCP4 ${'9'.repeat(200)}\r\n`),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3 4 5 6 7\r\n'),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      // v2 signature announcing 65535 bytes of addresses.
      Buffer.concat([
        Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]),
        Buffer.from([0x21, 0x11, 0xff, 0xff]),
        Buffer.alloc(300),
      ]),
    ];
    for (const bytes of attacks) {
      const s = await rawConnect(plainEdge.port('lvs'));
      const a = await exchange(s, bytes);
      assert.equal(
        a.closed,
        true,
        `still open after ${JSON.stringify(bytes.subarray(0, 20).toString('latin1'))}`,
      );
      assert.equal(a.text, '');
    }
    assert.equal((await viaLvs(plainEdge)).zone, 'rz04');
  });

  it('answers a plain-HTTP connection that never sends a request with 408 and closes it', async () => {
    const s = await rawConnect(plainEdge.port('web'));
    const a = await exchange(s, '');
    assert.equal(a.closed, true);
    assert.ok(a.text === '' || statusOf(a.text) === 408, a.text);
    const ok = await rawConnect(plainEdge.port('web'));
    const r = await exchange(ok, httpGet('/whoami', { 'x-ldc-uid': '4242' }, true));
    assert.equal(statusOf(r.text), 200);
  });
});
