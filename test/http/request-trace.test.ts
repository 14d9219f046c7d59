/**
 * A real gateway (runGatewayProcess, as `zonegate start` runs it) behind a PROXY-protocol
 * listener: request ids, W3C trace context, the access log's fields, the error shape, and
 * a /metrics that promtool accepts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runGatewayProcess, type GatewayProcess } from '../../src/gateway/process.js';
import { createMetrics } from '../../src/admin/metrics.js';
import { validateConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../src/gateway/index.js';
import { curl } from '../helpers/http-client.js';
import { jsonLineSink } from '../helpers/log-lines.js';
import { exampleDoc } from '../helpers/maps.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

let dir = '';
let upstreams: DemoUpstreams;
let gw: Exclude<GatewayProcess, { role: 'primary' }>;
let web = '';
let lvsPort = 0;
const logLines: Record<string, unknown>[] = [];
const logWaiters = new Set<() => void>();

/** The first access log line with this request id (waits for it: the log is written after the answer). */
async function accessLine(requestId: string): Promise<Record<string, unknown>> {
  for (;;) {
    const line = logLines.find((l) => l['kind'] === 'access' && l['requestId'] === requestId);
    if (line !== undefined) return line;
    await new Promise<void>((resolve) => logWaiters.add(resolve));
  }
}

/** One request over a raw socket, preceded by a PROXY v1 header naming `client` as the source. */
function viaProxy(client: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: lvsPort });
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('utf8')));
    s.on('error', reject);
    s.on('end', () => resolve(text));
    s.write(`PROXY TCP4 ${client} 10.0.0.1 40000 80\r\n${request}`);
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zg-trace-'));
  upstreams = await startDemoUpstreams(exampleDoc());
  await writeFile(join(dir, 'map.json'), JSON.stringify(upstreams.doc));
  const config = validateConfig(
    {
      idc: 'hz-1',
      listeners: [
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
        { name: 'lvs', protocol: 'http', host: '127.0.0.1', port: 0, proxyProtocol: true },
      ],
      zonemap: { file: 'map.json' },
      upstream: { healthCheck: { enabled: false } },
      admin: { host: '127.0.0.1', port: 0 },
      drain: { delayMs: 0, timeoutMs: 2000 },
    },
    { baseDir: dir },
  );
  const sink = jsonLineSink(logLines, () => {
    for (const w of logWaiters) w();
    logWaiters.clear();
  });
  const p = await runGatewayProcess({
    config,
    workers: 1,
    handleSignals: false,
    logger: createLogger({ level: 'info' }, sink),
    // Its own registry with the process metrics, as `start` has.
    metrics: createMetrics({ defaultMetrics: true }),
  });
  if (p.role === 'primary') throw new Error('one process was asked for');
  gw = p;
  web = gw.gateway.urls().find((u) => u.name === 'web')!.url;
  lvsPort = gw.gateway.address('lvs').port;
});
after(async () => {
  if (gw !== undefined) {
    await gw.close();
  }
  await upstreams.close();
  await rm(dir, { recursive: true, force: true });
});

describe('request id, trace context and access log', () => {
  it('keeps a sane x-request-id, continues the trace with its own span, and logs the client as PROXY named it', async () => {
    const answer = await viaProxy(
      '203.0.113.7',
      'GET /orders?token=secret HTTP/1.1\r\nHost: shop.example\r\nx-ldc-uid: 1234\r\n' +
        `x-request-id: req-abc.1\r\ntraceparent: 00-${CLIENT_TRACE}-${CLIENT_SPAN}-01\r\n` +
        'tracestate: vendor=1\r\nConnection: close\r\n\r\n',
    );
    const [head, body = ''] = answer.split('\r\n\r\n');
    assert.match(head ?? '', /^HTTP\/1\.1 200 /);
    assert.match(head ?? '', /\r\nx-request-id: req-abc\.1\r\n/i);
    const seen = JSON.parse(body) as { zone: string; headers: Record<string, string> };
    assert.equal(seen.zone, 'rz03');
    assert.equal(seen.headers['x-request-id'], 'req-abc.1');
    assert.equal(seen.headers['tracestate'], 'vendor=1');
    const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.headers['traceparent'] ?? '');
    assert.ok(tp !== null, `upstream traceparent: ${seen.headers['traceparent']}`);
    assert.equal(tp[1], CLIENT_TRACE);
    assert.notEqual(tp[2], CLIENT_SPAN, 'the gateway is a span of its own');

    const log = await accessLine('req-abc.1');
    assert.deepEqual(
      {
        client: log['client'],
        host: log['host'],
        method: log['method'],
        path: log['path'],
        status: log['status'],
        zone: log['zone'],
        reason: log['reason'],
        bytesIn: log['bytesIn'],
        bytesOut: log['bytesOut'],
        upstream: log['upstream'],
        traceId: log['traceId'],
        spanId: log['spanId'],
        parentSpanId: log['parentSpanId'],
      },
      {
        client: '203.0.113.7',
        host: 'shop.example',
        method: 'GET',
        path: '/orders',
        status: 200,
        zone: 'rz03',
        reason: 'uid-shard',
        bytesIn: 0,
        bytesOut: Buffer.byteLength(body),
        upstream: upstreams.addresses.get(`rz03/${String(log['colour'])}`),
        traceId: CLIENT_TRACE,
        spanId: tp[2],
        parentSpanId: CLIENT_SPAN,
      },
    );
    assert.equal(typeof log['upstreamMs'], 'number');
    assert.equal(typeof log['durationMs'], 'number');
  });

  it('replaces a hostile request id and an invalid traceparent, and counts a chunked body', async () => {
    const r = await curl([
      '-H',
      'x-ldc-uid: 1234',
      '-H',
      `x-request-id: ${'x'.repeat(200)}`,
      '-H',
      'traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '-H',
      'transfer-encoding: chunked',
      '--data-binary',
      'a'.repeat(3000),
      `${web}/upload`,
    ]);
    assert.equal(r.status, 200, r.body);
    const id = r.headers['x-request-id'] ?? '';
    assert.match(
      id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      'a generated v4 UUID',
    );
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-request-id'], id);
    const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(seen.headers['traceparent'] ?? '');
    assert.ok(tp !== null && tp[1] !== '0'.repeat(32), 'a new trace, not sampled');
    const log = await accessLine(id);
    assert.equal(log['bytesIn'], 3000);
    assert.equal(log['parentSpanId'], undefined);
    assert.equal(log['traceId'], tp[1]);
  });

  it('admin errors have the proxy shape and a request id', async () => {
    const r = await curl(['-H', 'x-request-id: adm-1', `${gw.admin!.url}/nope`]);
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-request-id'], 'adm-1');
    assert.deepEqual(JSON.parse(r.body), {
      error: 'ZG_ERR_ADMIN_NOT_FOUND',
      reason: 'no admin endpoint /nope',
      requestId: 'adm-1',
    });
  });

  it(
    '/metrics passes promtool check metrics',
    { skip: !existsSync('/usr/bin/promtool') && 'promtool not installed' },
    async () => {
      const text = (await curl([`${gw.admin!.url}/metrics`])).body;
      assert.match(text, /^zonegate_http_requests_total\{/m);
      const out = await new Promise<{ code: number; text: string }>((resolve) => {
        const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : Number(err.code ?? 1), text: stdout + stderr }),
        );
        p.stdin?.end(text);
      });
      assert.equal(out.code, 0, out.text);
    },
  );

  it('a failed upstream: the client gets the code and a generic reason, the log gets the address', async () => {
    await upstreams.close();
    const r = await curl(['-H', 'x-ldc-uid: 1234', '-H', 'x-request-id: fail-1', `${web}/orders`]);
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-request-id'], 'fail-1');
    assert.deepEqual(JSON.parse(r.body), {
      error: 'ZG_ERR_UPSTREAM_FAILED',
      reason: 'the upstream of this zone failed',
      requestId: 'fail-1',
    });
    const log = await accessLine('fail-1');
    assert.equal(log['status'], 502);
    assert.match(String(log['detail']), /upstream 127\.0\.0\.1:\d+ \(zone rz03\) failed/);
    assert.equal(log['bytesOut'], Buffer.byteLength(r.body));

    // The same for a WebSocket upgrade, answered on the raw socket.
    const port = gw.gateway.address('web').port;
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString('utf8')));
      sock.on('error', reject);
      sock.on('close', () => resolve(text));
      sock.write(
        'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-ldc-uid: 1234\r\nx-request-id: ws-1\r\n\r\n',
      );
    });
    assert.match(raw, /^HTTP\/1\.1 502 /);
    assert.match(raw, /\r\nx-request-id: ws-1\r\n/);
    assert.match(raw, /"reason":"the upstream of this zone failed","requestId":"ws-1"/);
    const wsLog = await accessLine('ws-1');
    assert.equal(wsLog['protocol'], 'ws');
    // The detail keeps the cause (connect refused) for the log; the client saw only the code.
    assert.match(String(wsLog['detail']), /127\.0\.0\.1:\d+ failed the WebSocket upgrade: .*ECONNREFUSED/);
  });
});
