import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { DemoAnswer } from '../../src/gateway/demo-upstreams.js';
import { curl } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { busOf, startHarness, type Harness } from './harness.js';

interface Answer {
  status: number;
  reason: string | undefined;
  body: { error?: string; reason?: string; zone?: string };
}

async function call(
  url: string,
  headers: Record<string, string>,
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<Answer> {
  const r = await request(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await r.body.text();
  return {
    status: r.statusCode,
    reason: r.headers['x-ldc-reason'] as string | undefined,
    body: JSON.parse(text) as Answer['body'],
  };
}

describe('errors a client sees, and upstream failure handling', () => {
  let h: Harness;
  let silent: Server;
  let dead: string;
  let live: string;
  const retries: string[] = [];
  before(async () => {
    // Port 1 (tcpmux) is privileged and unused here: connect is refused at once. A port bound
    // and closed earlier could be handed to one of the demo upstreams started below.
    dead = '127.0.0.1:1';
    // Accepts, reads, never answers: the response timeout's victim.
    silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentAddr = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    h = await startHarness({
      config: {
        timeouts: { upstreamResponseTimeoutMs: 300, shutdownGraceMs: 100 },
        limits: { maxBodyBytes: 1000, maxHeaderBytes: 2048 },
        upstream: {
          ejection: { consecutiveFailures: 2, ejectMs: 60_000 },
          healthCheck: { enabled: false, healthyThreshold: 1, unhealthyThreshold: 1 },
        },
      },
      events: busOf((b) => b.retry.subscribe((e) => retries.push(`${e.from}->${e.to}`))),
      change: (d) => {
        // uid 15 → shard 15 → rz01 (green: 0, so always blue).
        live = d.zones.rz01!.upstreams!.http!.blue![0]!;
        d.zones.rz01!.upstreams!.http = { blue: [dead, live], green: [] };
        // uid 25 → rz02: only a dead upstream. uid 35 → rz03: one that never answers.
        d.zones.rz02!.upstreams!.http = { blue: [dead], green: [dead] };
        d.zones.rz03!.upstreams!.http = { blue: [silentAddr], green: [silentAddr] };
      },
    });
  });
  after(async () => {
    await h.close();
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  });

  it('retries a GET whose connect failed once, on another endpoint of the same zone', async () => {
    const before = retries.length;
    for (let i = 0; i < 4; i++) {
      const r = await call(`${h.url}/x`, { 'x-ldc-uid': '15' });
      assert.equal(r.status, 200);
      assert.equal(r.body.zone, 'rz01');
    }
    // Round robin put the dead endpoint first at least once, then ejection kept it out.
    assert.ok(retries.length > before);
    assert.ok(retries.every((x) => x === `${dead}->${live}`));
  });

  it('answers 502 with a JSON body when every upstream of the zone is down, and never tries another zone', async () => {
    const r = await call(`${h.url}/x`, { 'x-ldc-uid': '25' });
    assert.equal(r.status, 502);
    assert.equal(r.reason, 'ZG_ERR_UPSTREAM_FAILED');
    assert.equal(r.body.error, 'ZG_ERR_UPSTREAM_FAILED');
    // Generic to the client: the upstream address and the zone are for the log only.
    assert.equal(r.body.reason, 'the upstream of this zone failed');
    assert.doesNotMatch(JSON.stringify(r.body), /rz02|127\.0\.0\.1|ECONNREFUSED/);
  });

  it('does not retry a POST with a body', async () => {
    const before = retries.length;
    let sawDead = false;
    for (let i = 0; i < 2; i++) {
      const r = await call(`${h.url}/x`, { 'x-ldc-uid': '25' }, 'POST', 'payload');
      sawDead ||= r.status === 502;
    }
    assert.ok(sawDead);
    assert.equal(retries.length, before);
  });

  it('answers 504 when the upstream does not answer in upstreamResponseTimeoutMs', async () => {
    const r = await call(`${h.url}/x`, { 'x-ldc-uid': '35' });
    assert.equal(r.status, 504);
    assert.equal(r.reason, 'ZG_ERR_UPSTREAM_TIMEOUT');
  });

  it('answers 413 for a body over maxBodyBytes, by Content-Length and when chunked', async () => {
    const byLength = await curl(['-H', 'x-ldc-uid: 1', '--data-binary', 'x'.repeat(2000), `${h.url}/up`]);
    assert.equal(byLength.status, 413);
    assert.equal(byLength.headers['x-ldc-reason'], 'ZG_ERR_BODY_TOO_LARGE');
    assert.equal((JSON.parse(byLength.body) as Answer['body']).error, 'ZG_ERR_BODY_TOO_LARGE');
    const chunked = await curl([
      '-H',
      'x-ldc-uid: 1',
      '-H',
      'transfer-encoding: chunked',
      '--data-binary',
      'y'.repeat(5000),
      `${h.url}/up`,
    ]);
    assert.equal(chunked.status, 413);
    assert.equal(chunked.headers['x-ldc-reason'], 'ZG_ERR_BODY_TOO_LARGE');
    const small = await curl(['-H', 'x-ldc-uid: 1', '--data-binary', 'z'.repeat(500), `${h.url}/up`]);
    assert.equal(small.status, 200);
    assert.equal((JSON.parse(small.body) as DemoAnswer & { bodyBytes: number }).bodyBytes, 500);
  });

  it('answers 431 with a JSON body for headers over maxHeaderBytes', async () => {
    const r = await curl(['-H', `x-big: ${'a'.repeat(4000)}`, `${h.url}/x`]);
    assert.equal(r.status, 431);
    assert.equal(r.headers['x-ldc-reason'], 'ZG_ERR_HEADERS_TOO_LARGE');
    assert.equal((JSON.parse(r.body) as Answer['body']).error, 'ZG_ERR_HEADERS_TOO_LARGE');
  });

  it('answers 400 to bytes that are not HTTP', async () => {
    const port = h.gw.address('web').port;
    const text = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('HELLO THERE\r\n\r\n'));
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
      s.on('error', () => resolve(buf));
    });
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /x-ldc-reason: ZG_ERR_BAD_REQUEST/);
  });
});

describe('client-side limits and timeouts', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      config: { limits: { maxConnections: 2 }, timeouts: { headersTimeoutMs: 400, shutdownGraceMs: 100 } },
    });
  });
  after(async () => {
    await h.close();
  });

  it('answers 408 to a client that does not finish its headers in headersTimeoutMs', async () => {
    const port = h.gw.address('web').port;
    const text = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n'));
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
      s.on('error', () => resolve(buf));
    });
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /x-ldc-reason: ZG_ERR_REQUEST_TIMEOUT/);
  });

  it('closes connections beyond maxConnections at once', async () => {
    const port = h.gw.address('web').port;
    const open = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    // Counted by the gateway once it has answered a request on each (both stay open, keep-alive).
    await Promise.all(
      open.map((s) => {
        s.write('GET /x HTTP/1.1\r\nhost: x\r\nx-ldc-uid: 1\r\n\r\n');
        return once(s, 'data');
      }),
    );
    const third = await curl([`${h.url}/x`]);
    assert.equal(third.status, 0);
    assert.notEqual(third.exitCode, 0);
    for (const s of open) s.destroy();
    // The gateway frees the slots when it sees the closes: poll until a request gets through.
    await waitFor(
      'a connection to be accepted again',
      async () => (await curl(['-H', 'x-ldc-uid: 1', `${h.url}/x`])).status === 200,
    );
  });
});
