/**
 * HTTP/2 clients that reset streams, stop reading, or send what the upstream client refuses,
 * over real h2 sessions (node:http2 sends the frames). The pool holds 4 connections: a stream
 * whose upstream request outlives it shows as a zone that stops answering.
 */
import assert from 'node:assert/strict';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { within } from '../helpers/wait.js';
import { assertServed, POOL, startRig, until, type Rig, withTls } from './http-fixture.js';

describe('HTTP/2 resets, zero windows and refused requests', () => {
  let rig: Rig;
  let c: TestCerts;
  let origin: string;
  before(async () => {
    c = await testCerts();
    rig = await startRig({ listeners: withTls(c) });
    origin = `https://localhost:${rig.h.gw.address('tls').port}`;
  });
  after(async () => {
    await rig.close();
  });

  function session(settings: Record<string, number> = {}): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = connect(origin, { ca: c.caPem, settings });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function request(
    s: ClientHttp2Session,
    headers: Record<string, string>,
    endStream = true,
  ): ClientHttp2Stream {
    const st = s.request({ 'x-ldc-uid': '1', ...headers }, { endStream });
    st.on('error', () => {});
    return st;
  }

  it('64 × (HEADERS + RST_STREAM) on one connection leave the zone served', async () => {
    const s = await session();
    s.on('error', () => {});
    const before = rig.rec.seen.length;
    const streams: ClientHttp2Stream[] = [];
    for (let i = 0; i < 64; i++) streams.push(request(s, { ':path': '/big?mb=20' }));
    // Reset them all once the upstream is busy with the first ones.
    assert.ok(await until(() => rig.rec.seen.length - before >= POOL));
    for (const st of streams) st.close(constants.NGHTTP2_CANCEL);
    await assertServed(rig, 'HEADERS + RST_STREAM burst');
    s.destroy();
  });

  it('large downloads with a zero window, then reset, leave the zone served', async () => {
    const s = await session({ initialWindowSize: 0 });
    s.on('error', () => {});
    const streams: ClientHttp2Stream[] = [];
    let heads = 0;
    for (let i = 0; i < POOL + 2; i++) {
      const st = request(s, { ':path': '/big?mb=20' });
      streams.push(st);
      st.once('response', () => heads++);
    }
    // At least the pool's worth reached the upstream and answered their heads (HEADERS frames
    // are not flow-controlled, so a zero window does not hold them back).
    assert.ok(await until(() => heads >= POOL), "the pool's worth of response heads");
    for (const st of streams) st.close(constants.NGHTTP2_CANCEL);
    await assertServed(rig, 'zero-window downloads reset');
    s.destroy();
  });

  it('large downloads with a zero window, kept open, are cut after the idle timeout', async () => {
    const s = await session({ initialWindowSize: 0 });
    s.on('error', () => {});
    for (let i = 0; i < POOL + 1; i++) request(s, { ':path': '/big?mb=20' });
    try {
      await assertServed(rig, 'zero-window downloads held open');
    } finally {
      s.destroy();
    }
  });

  it('a POST reset before its body ends is never executed as a complete request', async () => {
    const s = await session();
    s.on('error', () => {});
    // Nothing of the body: headers, then the reset once the gateway is reading the body. It
    // takes no upstream connection for a body under requestBufferBytes (so the recorder sees
    // nothing of it); what says it has the request is its exchange in the transfer watch,
    // which holds every exchange waiting on its client, and nothing else is in flight here.
    const transfers = rig.h.gw.http.ctx.transfers;
    const inFlight = transfers.size;
    const empty = request(s, { ':method': 'POST', ':path': '/reset-empty' }, false);
    assert.ok(await until(() => transfers.size > inFlight), 'the gateway is reading the POST body');
    empty.close(constants.NGHTTP2_CANCEL);
    // More than the gateway buffers: the upstream request starts, then the client resets.
    const big = request(s, { ':method': 'POST', ':path': '/reset-big' }, false);
    big.write(Buffer.alloc(1_000_000, 0x61));
    assert.ok(await until(() => rig.rec.seen.some((x) => x.url === '/reset-big' && x.bodyBytes > 0)));
    // destroy(): RST_STREAM now, without first flushing what is left of the body.
    big.destroy();
    await assertServed(rig, 'POST reset before its body ended');
    const seen = rig.rec.seen.filter((x) => x.url.startsWith('/reset-'));
    assert.ok(
      seen.every((x) => !x.complete),
      JSON.stringify(seen.map((x) => [x.url, x.complete, x.bodyBytes])),
    );
    s.destroy();
  });

  it('answers 400 to a host header that differs from :authority, and blames no upstream', async () => {
    const s = await session();
    s.on('error', () => {});
    const before = rig.rec.seen.length;
    for (let i = 0; i < POOL + 2; i++) {
      const st = request(s, {
        ':path': '/two-hosts',
        ':authority': new URL(origin).host,
        host: 'internal.admin',
      });
      const status = await new Promise<number>((resolve) => {
        st.once('response', (h) => resolve(Number(h[':status'])));
        st.once('close', () => resolve(0));
      });
      st.resume();
      assert.equal(status, 400);
    }
    assert.equal(rig.rec.seen.length, before);
    s.destroy();
    await assertServed(rig, 'host differing from :authority');
  });

  it('answers 100-continue over h2 and forwards the body once', async () => {
    const s = await session();
    s.on('error', () => {});
    const st = request(s, { ':method': 'POST', ':path': '/h2-expect', expect: '100-continue' }, false);
    await new Promise((r) => st.once('continue', r));
    st.end('hello');
    const status = await new Promise<number>((resolve) =>
      st.once('response', (h) => resolve(Number(h[':status']))),
    );
    st.resume();
    assert.equal(status, 200);
    assert.ok(
      await until(() => rig.rec.seen.some((x) => x.url === '/h2-expect' && x.complete && x.bodyBytes === 5)),
    );
    s.destroy();
  });

  it('survives a rapid-reset flood and keeps serving', async () => {
    const s = await session();
    s.on('error', () => {});
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    const flood: Promise<void>[] = [];
    for (let i = 0; i < 2000 && !s.destroyed && !s.closed; i++) {
      const st = request(s, { ':path': '/flood' });
      flood.push(new Promise((r) => st.once('close', () => r())));
      st.close(constants.NGHTTP2_CANCEL);
    }
    // Before destroy(): the gateway has read the whole flood, or has ended the session. A stream
    // closes once its RST_STREAM is sent (or its HEADERS were dropped unsent), and a PING sent
    // after them all is answered only once the gateway has read every frame before it.
    const read = Promise.all(flood).then(
      () =>
        new Promise<void>((r) => {
          if (s.destroyed || s.closed) r();
          else s.ping(() => r());
        }),
    );
    await within('the gateway to read the flood or end the session', Promise.race([closed, read]));
    s.destroy();
    await assertServed(rig, 'rapid reset flood');
  });
});
