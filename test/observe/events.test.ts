/**
 * What an operator sees of the event stream, through the real `zonegate start` (child process,
 * real sockets): /metrics and the log lines on stderr. Each fact counted and logged once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { request } from 'undici';
import { testCerts } from '../helpers/certs.js';
import { freePort } from '../helpers/child-processes.js';
import { metricSum as sum, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { exampleDoc, type MutableDoc } from '../helpers/maps.js';

function jsonLines(lines: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    out.push(JSON.parse(l) as Record<string, unknown>);
  }
  return out;
}

describe('events through zonegate start: /metrics and the log', () => {
  let dir: string;
  let upstream: Server;
  let gw: GatewayProcess;
  let dead: string;
  let ports: { http: number; https: number; mqtt: number; admin: number };
  let doc: MutableDoc;
  const requests = 40;

  const metrics = async (): Promise<string> => {
    const r = await request(`http://127.0.0.1:${ports.admin}/metrics`);
    return r.body.text();
  };
  const writeMap = async (version: number): Promise<void> => {
    doc.version = version;
    await writeFile(join(dir, 'map.json'), JSON.stringify(doc));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-observe-'));
    // The live upstream fails its health check (503 on /healthz), so the checker has a verdict
    // to change; requests it answers 200.
    upstream = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? 503 : 200;
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const live = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // Nothing listens there: a connect error, retried on the live endpoint of the same zone.
    dead = `127.0.0.1:${await freePort()}`;
    doc = exampleDoc();
    for (const z of Object.values(doc.zones)) {
      // No MQTT broker listed: a CONNECT routed to the zone is refused with 0x88.
      z.upstreams = { http: { blue: [dead, live], green: [dead, live] } };
    }
    for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
    await writeMap(doc.version);
    const c = await testCerts();
    ports = {
      http: await freePort(),
      https: await freePort(),
      mqtt: await freePort(),
      admin: await freePort(),
    };
    const config = {
      idc: 'hz-1',
      listeners: [
        { name: 'web', protocol: 'http', port: ports.http, host: '127.0.0.1' },
        {
          name: 'web-tls',
          protocol: 'https',
          port: ports.https,
          host: '127.0.0.1',
          tls: { cert: c.serverCert, key: c.serverKey },
        },
        { name: 'mq', protocol: 'mqtt', port: ports.mqtt, host: '127.0.0.1' },
      ],
      zonemap: { file: join(dir, 'map.json') },
      upstream: { healthCheck: { intervalMs: 100, unhealthyThreshold: 1, healthyThreshold: 1 } },
      admin: { host: '127.0.0.1', port: ports.admin },
      drain: { delayMs: 0, timeoutMs: 5000 },
      logging: { level: 'info', accessSampleRate: 1 },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    gw = spawnGateway(['start', '-c', join(dir, 'config.json')]);
    await gw.waitFor(/gateway up/);
    // Requests, some of which pick the dead endpoint first and are retried.
    for (let i = 0; i < requests; i++) {
      const r = await request(`http://127.0.0.1:${ports.http}/orders/${i}?token=s3cret`, {
        headers: { 'x-ldc-uid': String(10_000_000 + i) },
      });
      assert.equal(r.statusCode, 200);
      await r.body.text();
    }
  });

  after(async () => {
    await gw?.stop();
    await new Promise((r) => upstream.close(r));
  });

  it('labels upstream errors with their zone, and counts and logs retries and the ejection', async () => {
    const text = await metrics();
    const errors = text.split('\n').filter((l) => l.startsWith('zonegate_upstream_errors_total{'));
    assert.ok(errors.length > 0, 'an upstream error was counted');
    for (const l of errors) assert.match(l, /zone="rz\d\d"/);
    assert.doesNotMatch(text, /zonegate_upstream_errors_total\{[^}]*zone=""/);
    assert.ok(sum(text, 'zonegate_upstream_retries_total') > 0, 'retries counted');
    assert.ok(sum(text, 'zonegate_upstream_ejections_total', { upstream: dead }) > 0, 'ejection counted');
    await gw.waitFor(/retried on another endpoint/);
    await gw.waitFor(/upstream ejected/);
  });

  it('logs and counts an upstream going unhealthy', async () => {
    const line = await gw.waitFor(/"msg":"upstream unhealthy"/);
    assert.match(line.input, /"upstream":"127\.0\.0\.1:\d+"/);
    // The gauge is set by the same publish that wrote the line.
    assert.equal(sum(await metrics(), 'zonegate_upstream_healthy', { upstream: dead }), 0);
    assert.ok(sum(await metrics(), 'zonegate_upstream_health_changes_total', { healthy: 'false' }) >= 1);
  });

  it('measures request durations in seconds with sub-millisecond precision', async () => {
    const text = await metrics();
    const total = sum(text, 'zonegate_http_request_duration_seconds_sum', { status_class: '2xx' });
    const count = sum(text, 'zonegate_http_request_duration_seconds_count', { status_class: '2xx' });
    assert.equal(count, requests);
    // Whole milliseconds divided by 1000 would land on a multiple of 0.001.
    const ms = total * 1000;
    assert.ok(Math.abs(ms - Math.round(ms)) > 1e-6, `sum ${total} s is not whole milliseconds`);
    assert.ok(sum(text, 'zonegate_upstream_latency_seconds_count') >= requests);
  });

  it('fills upstreamMs in the access log, and never writes the query string', async () => {
    await gw.waitFor(/"kind":"access".*"path":"\/orders\/39"/);
    const access = jsonLines(gw.stderr).filter((l) => l.kind === 'access' && l.status === 200);
    assert.equal(access.length, requests);
    for (const l of access) {
      assert.equal(typeof l.upstreamMs, 'number');
      assert.ok((l.upstreamMs as number) <= (l.durationMs as number));
      assert.match(String(l.zone), /^rz\d\d$/);
    }
    // Measured, not whole milliseconds of some other span.
    assert.ok(access.some((l) => !Number.isInteger(l.upstreamMs)));
    assert.doesNotMatch(gw.stderr.join('\n'), /s3cret/);
  });

  it('counts an MQTT CONNACK 0x88 for the zone it was routed to', async () => {
    await assert.rejects(
      connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
        protocolVersion: 5,
        // The uid comes from the client id (identity.mqtt default).
        clientId: '10000005-observe',
        reconnectPeriod: 0,
        connectTimeout: 5000,
      }),
    );
    await gw.waitFor(/"kind":"access".*"msg":"mqtt"/);
    const text = await metrics();
    const refused = text.split('\n').filter((l) => l.startsWith('zonegate_mqtt_connects_total{'));
    assert.ok(
      refused.some((l) => /zone="rz\d\d"/.test(l) && l.includes('result="0x88"')),
      refused.join('\n'),
    );
    assert.ok(!refused.some((l) => l.includes('zone="none"')), refused.join('\n'));
  });

  it('logs "certificates reloaded" once per listener and "zone map applied" once per change', async () => {
    gw.child.kill('SIGHUP');
    await gw.waitFor(/certificates reloaded/);
    await writeMap(doc.version + 1);
    await gw.waitFor(new RegExp(`"version":${doc.version},.*zone map applied`));
    const applied = doc.version;
    // A later fact: once its line is out, every line of the earlier ones is too.
    await writeMap(doc.version + 1);
    await gw.waitFor(new RegExp(`"version":${doc.version},.*zone map applied`));
    const logged = jsonLines(gw.stderr);
    assert.equal(logged.filter((l) => l.msg === 'certificates reloaded').length, 1);
    assert.equal(logged.filter((l) => l.msg === 'zone map applied' && l.version === applied).length, 1);
  });

  it('writes the last access lines before a graceful stop exits', async () => {
    const before = jsonLines(gw.stderr).filter((l) => l.kind === 'access').length;
    // Fewer bytes than the log buffer: only the flush at stop writes them.
    for (let i = 0; i < 5; i++) {
      const r = await request(`http://127.0.0.1:${ports.http}/last/${i}`, {
        headers: { 'x-ldc-uid': '10000005' },
      });
      await r.body.text();
    }
    assert.equal(await gw.stop(), 0);
    const lines = jsonLines(gw.stderr).filter((l) => l.kind === 'access');
    assert.equal(lines.length, before + 5);
    assert.equal(lines.at(-1)?.path, '/last/4');
  });
});
