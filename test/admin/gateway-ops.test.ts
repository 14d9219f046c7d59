/**
 * The real `zonegate start` (CLI → src/gateway/process.ts) in a child process: metrics move
 * with traffic, admin writes need the token, SIGHUP and POST /reload reload without a restart.
 * The drain is in drain.test.ts, `--workers` in workers.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { connectAsync } from 'mqtt';
import { metricSum as sum, startGatewayProcess, type StartedGateway } from '../helpers/gateway-process.js';
import { curl } from '../helpers/http-client.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

describe('operating the real gateway', () => {
  let dir: string;
  let upstream: Server;
  let broker: Mosquitto;
  let gw: StartedGateway;
  const token = 'ops-test-token';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-gw-ops-'));
    upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    broker = await startMosquitto();
    await writeFile(join(dir, 'token'), `${token}\n`);
    gw = await startGatewayProcess({
      dir,
      upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      broker: broker.address,
      config: { admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token') } },
    });
  });
  after(async () => {
    await gw.stop('SIGKILL');
    await broker.stop();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('moves request metrics with traffic and refuses admin writes without the token', async () => {
    const admin = gw.admin;
    const httpUrl = gw.http;
    const scrape = async (): Promise<string> => (await request(`${admin}/metrics`)).body.text();
    const rz00 = { zone: 'rz00', status_class: '2xx', idc: 'hz-1' };

    const before = await scrape();
    assert.equal(sum(before, 'zonegate_zonemap_version'), 1);
    const n = 12;
    for (let i = 0; i < n; i++) {
      // uid 10000005: shard 05 → rz00 (hz-1, this gateway's IDC).
      const res = await request(`${httpUrl}/a`, { headers: { 'x-ldc-uid': '10000005' } });
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
      assert.equal((await curl(['-H', 'x-ldc-uid: 10000005', `${httpUrl}/c`])).status, 200);
    }
    assert.equal(
      sum(await scrape(), 'zonegate_connections_total', { protocol: 'http' }) - connectionsBefore,
      fresh,
    );

    // MQTT: a session through the gateway moves the connect and packet counters.
    const client = await connectAsync(gw.mqtt, {
      clientId: '10000005',
      reconnectPeriod: 0,
    });
    await client.publishAsync('t/ops', 'hello', { qos: 1 });
    await client.endAsync();
    // The gateway counts the PUBLISH as it relays it; scrape until it shows.
    let mqttText = '';
    await waitFor('the relayed PUBLISH counted', async () => {
      mqttText = await scrape();
      return sum(mqttText, 'zonegate_mqtt_packets_total', { type: 'publish', direction: 'in' }) >= 1;
    });
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
    gw.child.kill('SIGHUP');
    await gw.waitFor(/SIGHUP: reloaded/);
    assert.equal(gw.child.exitCode, null);
    const still = await request(`${httpUrl}/a`, { headers: { 'x-ldc-uid': '10000005' } });
    assert.equal(still.statusCode, 200);
    await still.body.text();
  });
});
