/**
 * The real `zonegate start` (CLI → runGatewayProcess → startGateway) in a child process: metrics move
 * with traffic, admin writes need the token, SIGTERM drains without losing a request, and
 * `--workers 2` serves and sums.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { connectAsync } from 'mqtt';
import { curl, steadyLoad, waitForHealthzFailure } from '../helpers/http-client.js';
import { exampleDoc } from '../helpers/maps.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

interface Ports {
  readonly http: number;
  readonly admin: number;
  readonly mqtt: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Sum of every sample of `name` whose label set contains all of `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

describe('operating the real gateway', () => {
  let dir: string;
  let upstream: Server;
  let broker: Mosquitto;
  const children: ChildProcess[] = [];
  const token = 'ops-test-token';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-gw-ops-'));
    // One slow-able upstream stands in for every zone and colour.
    upstream = createServer((req, res) => {
      const wait = Number(new URL(req.url ?? '/', 'http://u').searchParams.get('delayMs') ?? '0');
      setTimeout(() => res.end('ok'), wait);
    });
    upstream.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const addr = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    broker = await startMosquitto();
    const doc = exampleDoc();
    for (const z of Object.values(doc.zones)) {
      z.upstreams = { http: { blue: [addr], green: [addr] }, mqtt: [broker.address] };
    }
    // Peers on TEST-NET-1, so the test client is no trusted peer gateway (see test/http/harness.ts).
    for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
    await writeFile(join(dir, 'map.json'), JSON.stringify(doc));
    await writeFile(join(dir, 'token'), `${token}\n`);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await broker.stop();
    await new Promise((r) => upstream.close(r));
    upstream.closeAllConnections();
    await rm(dir, { recursive: true, force: true });
  });

  /** `zonegate start -c CONFIG --workers N` through the real CLI, on free ports; resolves once /readyz is 200. */
  async function start(name: string, workers: number): Promise<{ child: ChildProcess; ports: Ports }> {
    const ports = { http: await freePort(), admin: await freePort(), mqtt: await freePort() };
    const config = {
      idc: 'hz-1',
      listeners: [
        { name: 'web', protocol: 'http', port: ports.http, host: '127.0.0.1' },
        { name: 'mqtt', protocol: 'mqtt', port: ports.mqtt, host: '127.0.0.1' },
      ],
      zonemap: { file: join(dir, 'map.json') },
      upstream: { healthCheck: { enabled: false } },
      admin: { host: '127.0.0.1', port: ports.admin, tokenFile: join(dir, 'token') },
      drain: { delayMs: 400, timeoutMs: 5000 },
      logging: { level: 'error' },
      timeouts: { shutdownGraceMs: 4000 },
    };
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify(config));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/run.ts', 'start', '-c', path, '--workers', String(workers)],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    children.push(child);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${name}: exited ${child.exitCode} before it was ready`);
      const res = await request(`http://127.0.0.1:${ports.admin}/readyz`).catch(() => null);
      await res?.body.text();
      if (res?.statusCode === 200) return { child, ports };
      await sleep(50);
    }
    throw new Error(`${name}: not ready within 20 s`);
  }

  it('moves request metrics with traffic and refuses admin writes without the token', async () => {
    const { child, ports } = await start('metrics', 1);
    const admin = `http://127.0.0.1:${ports.admin}`;
    const scrape = async (): Promise<string> => (await request(`${admin}/metrics`)).body.text();
    const rz00 = { zone: 'rz00', status_class: '2xx', idc: 'hz-1' };

    const before = await scrape();
    assert.equal(sum(before, 'zonegate_zonemap_version'), 1);
    const n = 12;
    for (let i = 0; i < n; i++) {
      // uid 10000005: shard 05 → rz00 (hz-1, this gateway's IDC).
      const res = await request(`http://127.0.0.1:${ports.http}/a`, { headers: { 'x-ldc-uid': '10000005' } });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    }
    const afterScrape = await scrape();
    assert.equal(
      sum(afterScrape, 'zonegate_http_requests_total', rz00) -
        sum(before, 'zonegate_http_requests_total', rz00),
      n,
    );
    assert.equal(
      sum(afterScrape, 'zonegate_http_request_duration_seconds_count', { zone: 'rz00' }) -
        sum(before, 'zonegate_http_request_duration_seconds_count', { zone: 'rz00' }),
      n,
    );

    // Upstream latency is observed per zone and colour (uid 10000005 is on rz00's blue).
    assert.equal(
      sum(afterScrape, 'zonegate_upstream_latency_seconds_count', { zone: 'rz00', colour: 'blue' }) -
        sum(before, 'zonegate_upstream_latency_seconds_count', { zone: 'rz00', colour: 'blue' }),
      n,
    );

    // Connections: each curl run is one new client connection (the scrapes above went to the
    // admin port, which is not a client listener).
    const connectionsBefore = sum(afterScrape, 'zonegate_connections_total', { protocol: 'http' });
    const fresh = 5;
    for (let i = 0; i < fresh; i++) {
      assert.equal(
        (await curl(['-H', 'x-ldc-uid: 10000005', `http://127.0.0.1:${ports.http}/c`])).status,
        200,
      );
    }
    assert.equal(
      sum(await scrape(), 'zonegate_connections_total', { protocol: 'http' }) - connectionsBefore,
      fresh,
    );

    // MQTT: a session through the gateway moves the connect and packet counters.
    const client = await connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      clientId: '10000005',
      reconnectPeriod: 0,
    });
    await client.publishAsync('t/ops', 'hello', { qos: 1 });
    await client.endAsync();
    let mqttText = '';
    for (let i = 0; i < 40; i++) {
      mqttText = await scrape();
      if (sum(mqttText, 'zonegate_mqtt_packets_total', { type: 'publish', direction: 'in' }) >= 1) break;
      await sleep(50);
    }
    assert.equal(
      sum(mqttText, 'zonegate_mqtt_connects_total', { zone: 'rz00' }),
      1,
      'one CONNECT routed to rz00',
    );
    assert.ok(sum(mqttText, 'zonegate_mqtt_packets_total', { type: 'publish', direction: 'in' }) >= 1);

    for (const path of ['/drain', '/reload']) {
      const res = await request(`${admin}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer nope' },
      });
      assert.equal(res.statusCode, 401);
      await res.body.text();
    }
    const health = await request(`${admin}/healthz`);
    assert.equal(health.statusCode, 200, 'a refused /drain changed nothing');
    await health.body.text();
    const reload = await request(`${admin}/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(reload.statusCode, 200);
    await reload.body.text();

    // SIGHUP reloads instead of killing the process (the default action of SIGHUP).
    child.kill('SIGHUP');
    await sleep(200);
    assert.equal(child.exitCode, null);
    const still = await request(`http://127.0.0.1:${ports.http}/a`, { headers: { 'x-ldc-uid': '10000005' } });
    assert.equal(still.statusCode, 200);
    await still.body.text();
    child.kill('SIGKILL');
  });

  it('on SIGTERM under load fails /healthz first and loses no in-flight request', async () => {
    const { child, ports } = await start('drain', 1);
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const load = steadyLoad(`http://127.0.0.1:${ports.http}/slow?delayMs=150`, 6, {
      'x-ldc-uid': '10000005',
    });
    // An MQTT 5 session: the drain hands it to the MQTT stage, which tells it to move on.
    const mqttClient = await connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      clientId: '10000006',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const told = new Promise<{ code: number | undefined; at: number }>((resolve) => {
      mqttClient.once('disconnect', (p: { reasonCode?: number }) =>
        resolve({ code: p.reasonCode, at: Date.now() }),
      );
      mqttClient.once('close', () => resolve({ code: undefined, at: Date.now() }));
    });
    await sleep(300);
    assert.ok(load.ok > 0, 'traffic flows');
    const termAt = Date.now();
    child.kill('SIGTERM');
    const healthFailedAt = await waitForHealthzFailure(`http://127.0.0.1:${ports.admin}`);
    assert.ok(healthFailedAt > 0 && healthFailedAt - termAt < 200, 'healthz fails right after SIGTERM');
    const [code] = await exited;
    await load.stop();
    assert.equal(code, 0);
    assert.deepEqual(load.lost, []);
    assert.ok(
      load.lastOkAt - healthFailedAt >= 250,
      `kept serving ${load.lastOkAt - healthFailedAt} ms after healthz failed`,
    );
    // Told to reconnect elsewhere (MQTT 5 0x9C "use another server" / 0x9D "server moved"),
    // after the LVS delay, not dropped.
    const moved = await told;
    assert.ok(moved.code === 0x9c || moved.code === 0x9d, `MQTT DISCONNECT reason ${String(moved.code)}`);
    assert.ok(moved.at - termAt >= 400, `MQTT client moved ${moved.at - termAt} ms after SIGTERM`);
    mqttClient.end(true);
  });

  it('--workers 2 serves and reports metrics summed over the workers', async () => {
    const { child, ports } = await start('workers', 2);
    const httpPort = ports.http;
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const admin = `http://127.0.0.1:${ports.admin}`;
    const ready = await request(`${admin}/readyz`);
    assert.equal(ready.statusCode, 200);
    await ready.body.text();
    const n = 40;
    for (let i = 0; i < n; i++) {
      const res = await request(`http://127.0.0.1:${httpPort}/w`, {
        headers: { 'x-ldc-uid': '10000005', connection: 'close' },
      });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    }
    const text = await (await request(`${admin}/metrics`)).body.text();
    assert.equal(sum(text, 'zonegate_http_requests_total', { zone: 'rz00' }), n);
    assert.equal(sum(text, 'zonegate_zonemap_version'), 1, 'versions are not summed');

    // A map update reaches every worker: /readyz reports the oldest version any worker uses.
    const doc = JSON.parse(await readFile(join(dir, 'map.json'), 'utf8')) as { version: number };
    await writeFile(join(dir, 'map.json'), JSON.stringify({ ...doc, version: 2 }));
    let version = 0;
    for (let i = 0; i < 100 && version !== 2; i++) {
      const r = await request(`${admin}/readyz`);
      version = ((await r.body.json()) as { zonemapVersion?: number }).zonemapVersion ?? 0;
      if (version !== 2) await sleep(50);
    }
    assert.equal(version, 2, 'every worker routes by version 2');
    // Each worker applied it once, and the scrape sums both workers' histograms.
    const applied = await (await request(`${admin}/metrics`)).body.text();
    assert.equal(sum(applied, 'zonegate_zonemap_apply_seconds_count'), 2);
    assert.equal(sum(applied, 'zonegate_zonemap_version'), 2);
    await writeFile(join(dir, 'map.json'), JSON.stringify(doc));

    // POST /drain on the primary drains every worker, then the primary exits (like SIGTERM).
    const drain = await request(`${admin}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(drain.statusCode, 202);
    await drain.body.text();
    const [code] = await exited;
    assert.equal(code, 0);
  });
});
