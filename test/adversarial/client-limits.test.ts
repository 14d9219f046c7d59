/**
 * One source flooding the gateway: more connections than `limits.clientIp.maxConnections`
 * (on any listener, HTTP or MQTT, directly or behind a PROXY header), more requests than its
 * token bucket allows, and an attacker rotating source addresses to grow the limiter's table.
 * Loopback aliases (127.0.0.2 …) are distinct clients; the default exemption of loopback is
 * turned off here.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DemoAnswer, DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { ClientLimits, encodeProxyHeader } from '../../src/listeners/index.js';
import {
  closedWithin,
  demoUpstreams,
  exchange,
  httpGet,
  rawConnect,
  rawConnections,
  startEdge,
  statusOf,
  type Edge,
} from './edge-fixture.js';

let ups: DemoUpstreams;
let edge: Edge;
before(async () => {
  ups = await demoUpstreams();
  edge = await startEdge(ups, {
    listeners: [
      { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
      { name: 'lvs', protocol: 'http', port: 0, host: '127.0.0.1', proxyProtocol: true },
      { name: 'mq', protocol: 'mqtt', port: 0, host: '127.0.0.1' },
    ],
    // A bucket that does not refill within a test: every token spent stays spent.
    limits: {
      clientIp: {
        maxConnections: 3,
        requestsPerSec: 0.01,
        burst: 5,
        trackedClients: 20,
        exempt: [],
      },
    },
  });
});
after(async () => {
  await edge.close();
  await ups.close();
});

const count = (text: string, what: string): number => text.split(what).length - 1;
const proxied = (src: string, bytes: string): Buffer =>
  Buffer.concat([
    encodeProxyHeader(1, { address: src, port: 40000 }, { address: '127.0.0.1', port: 80 }),
    Buffer.from(bytes),
  ]);

/** An MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, client id "4242". */
const MQTT_CONNECT = Buffer.from([
  0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x04, 0x34, 0x32, 0x34, 0x32,
]);

/** One request on a fresh connection from `local`; the status. */
async function getFrom(local: string): Promise<number> {
  const s = await rawConnect(edge.port('web'), local);
  return statusOf((await exchange(s, httpGet('/whoami', { 'x-ldc-uid': '4242' }, true))).text);
}

describe('adversarial: per-client-address limits', () => {
  it('answers 429 with the JSON error once a client spends its burst, and serves another client right after', async () => {
    const s = await rawConnect(edge.port('web'), '127.0.0.2');
    const seven = Array.from({ length: 7 }, () => httpGet('/whoami', { 'x-ldc-uid': '4242' })).join('');
    const a = await exchange(s, seven, (t) => count(t, 'HTTP/1.1 ') === 7);
    s.destroy();
    const statuses = [...a.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    const last = a.text.slice(a.text.lastIndexOf('HTTP/1.1 429'));
    assert.match(last, /\r\nx-ldc-reason: ZG_ERR_RATE_LIMITED\r\n/i);
    const body = last.slice(last.indexOf('\r\n\r\n') + 4);
    assert.equal((JSON.parse(body) as { error: string }).error, 'ZG_ERR_RATE_LIMITED');
    // A WebSocket upgrade is a request too.
    const ws = await rawConnect(edge.port('web'), '127.0.0.2');
    const up = await exchange(
      ws,
      'GET /ws HTTP/1.1\r\nHost: edge.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nx-ldc-uid: 4242\r\n\r\n',
    );
    assert.equal(statusOf(up.text), 429);
    assert.equal(await getFrom('127.0.0.3'), 200);
    const text = await edge.metricsText();
    assert.match(text, /zonegate_http_requests_total\{[^}]*reason="ZG_ERR_RATE_LIMITED"[^}]*\} 2/);
    // Client addresses never become label values.
    assert.doesNotMatch(text, /127\.0\.0\.[0-9]/);
  });

  it('bounds the requests one client has in flight (uploads it never finishes), then serves it again once they end', async () => {
    // Its own gateway: only this limit on, so no other budget runs out first.
    const own = await startEdge(ups, {
      listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' }],
      limits: { clientIp: { maxConnections: 0, requestsPerSec: 0, maxActiveRequests: 2, exempt: [] } },
    });
    try {
      const get = async (local: string): Promise<number> => {
        const s = await rawConnect(own.port('web'), local);
        return statusOf((await exchange(s, httpGet('/whoami', { 'x-ldc-uid': '4242' }, true))).text);
      };
      // Two uploads that never finish: each is a request in flight for as long as the client
      // keeps its connection (the same holds for answers a client never reads). The gateway's
      // `100 Continue` says it has taken the request on.
      const stuck: Socket[] = [];
      for (let i = 0; i < 2; i++) {
        const s = await rawConnect(own.port('web'), '127.0.0.20');
        const head = await exchange(
          s,
          'POST /upload HTTP/1.1\r\nHost: edge.test\r\nx-ldc-uid: 4242\r\nContent-Length: 100\r\n' +
            'Expect: 100-continue\r\n\r\n',
          (t) => t.includes('\r\n\r\n'),
        );
        assert.equal(statusOf(head.text), 100);
        s.write('ab');
        stuck.push(s);
      }
      assert.equal(await get('127.0.0.20'), 429, 'a third request in flight is refused');
      assert.equal(await get('127.0.0.21'), 200, 'another client is served meanwhile');
      // The client resets its uploads: once the gateway has seen both go, its slots are back
      // (no rate limit here, so asking again costs nothing; bounded).
      for (const s of stuck) s.resetAndDestroy();
      let status = 429;
      for (let i = 0; i < 200 && status === 429; i++) status = await get('127.0.0.20');
      assert.equal(status, 200);
    } finally {
      await own.close();
    }
  });

  it('closes a client connection beyond maxConnections on any listener, HTTP or MQTT, and counts it', async () => {
    const held = await rawConnections(3, edge.port('web'), '127.0.0.5');
    const mq = await rawConnect(edge.port('mq'), '127.0.0.5');
    const refused = await exchange(mq, MQTT_CONNECT);
    assert.equal(refused.closed, true);
    assert.equal(refused.text, '');
    const web = await rawConnect(edge.port('web'), '127.0.0.5');
    await closedWithin(web, 5000, 'a fourth connection from the same client');
    // Another client reaches the MQTT listener: a CONNACK (whatever its broker says) comes back.
    const other = await rawConnect(edge.port('mq'), '127.0.0.6');
    const connack = await exchange(other, MQTT_CONNECT, (t) => t.length >= 4);
    other.destroy();
    assert.equal(connack.text.charCodeAt(0), 0x20, 'CONNACK');
    // Closing one connection frees a slot for the same client.
    held[0]!.destroy();
    await closedWithin(held[0]!, 1000, 'our own close');
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await getFrom('127.0.0.5');
    }
    assert.equal(status, 200);
    for (const s of held) s.destroy();
    assert.match(
      await edge.metricsText(),
      /zonegate_connections_refused_total\{protocol="(http|mqtt)",reason="client-connections"\} [1-9]/,
    );
  });

  it('counts clients behind a PROXY header by the address in the header, not the balancer', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await rawConnect(edge.port('lvs'));
      s.write(proxied('203.0.113.9', ''));
      held.push(s);
    }
    const fourth = await rawConnect(edge.port('lvs'));
    const a = await exchange(
      fourth,
      proxied('203.0.113.9', httpGet('/whoami', { 'x-ldc-uid': '4242' }, true)),
    );
    assert.equal(a.closed, true);
    assert.equal(a.text, '');
    const other = await rawConnect(edge.port('lvs'));
    const b = await exchange(
      other,
      proxied('203.0.113.10', httpGet('/whoami', { 'x-ldc-uid': '4242' }, true)),
    );
    assert.equal(statusOf(b.text), 200);
    assert.equal((JSON.parse(b.text.slice(b.text.indexOf('\r\n\r\n') + 4)) as DemoAnswer).zone, 'rz04');
    for (const s of held) s.destroy();
  });

  it('keeps its memory bounded against an attacker rotating source addresses (the oldest entry is forgotten)', async () => {
    const once = async (src: string): Promise<number> => {
      const s = await rawConnect(edge.port('lvs'));
      return statusOf(
        (await exchange(s, proxied(src, httpGet('/whoami', { 'x-ldc-uid': '4242' }, true)))).text,
      );
    };
    for (let i = 0; i < 5; i++) assert.equal(await once('192.0.2.50'), 200);
    assert.equal(await once('192.0.2.50'), 429);
    // More distinct sources than trackedClients (20): the table forgets 192.0.2.50 first.
    for (let i = 0; i < 25; i++) assert.equal(await once(`198.18.0.${i + 1}`), 200);
    assert.equal(await once('192.0.2.50'), 200);

    // The same bound, counted directly: 3 000 addresses, 100 entries.
    const limits = new ClientLimits({
      maxConnections: 0,
      requestsPerSec: 1,
      maxActiveRequests: 0,
      burst: 1,
      trackedClients: 100,
      exempt: ['127.0.0.0/8'],
    });
    const fake = {} as Socket;
    for (let i = 0; i < 3000; i++) {
      limits.bindSocket(fake, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      limits.allowRequest(fake);
      // IPv6 clients are counted per /64: rotating the interface id buys nothing.
      limits.bindSocket(fake, `2001:db8:0:1::${i.toString(16)}`);
      limits.allowRequest(fake);
    }
    assert.ok(limits.sizes().buckets <= 100);
    limits.bindSocket(fake, '2001:db8:0:1::ffff:1');
    assert.equal(limits.allowRequest(fake), false, 'the /64 spent its bucket');
    limits.bindSocket(fake, '127.0.0.9');
    assert.equal(limits.allowRequest(fake), true, 'exempt');
  });
});
