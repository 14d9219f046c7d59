/**
 * The graceful drain of the real `zonegate start` (CLI → src/gateway/process.ts): SIGTERM fails
 * /healthz first, keeps serving through `drain.delayMs`, loses no request, closes the listener
 * and exits 0; a request that outlives `drain.timeoutMs` is cut and the exit code says so.
 * Waits on what the processes say (log lines, probe answers, the upstream's own events).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { connectAsync } from 'mqtt';
import { startGatewayProcess, type StartedGateway } from '../helpers/gateway-process.js';
import { steadyLoad } from '../helpers/http-client.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { waitFor, within } from '../helpers/wait.js';

/** uid 10000005: shard 05 → rz00, in this gateway's IDC hz-1. */
const LOCAL_UID = { 'x-ldc-uid': '10000005' };

/** GET /healthz until it answers 503: what LVS does. No pause between probes: each is a round trip. */
async function healthzFails(admin: string): Promise<void> {
  for (;;) {
    const res = await request(`${admin}/healthz`);
    await res.body.text();
    if (res.statusCode === 503) return;
  }
}

describe('graceful drain of zonegate start', () => {
  let dir: string;
  let upstream: Server;
  let broker: Mosquitto;
  const gateways: StartedGateway[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-drain-'));
    // Answers after `?delayMs=`: a request that is in flight when the drain starts.
    upstream = createServer((req, res) => {
      const wait = Number(new URL(req.url ?? '/', 'http://u').searchParams.get('delayMs') ?? '0');
      const timer = setTimeout(() => res.end('ok'), wait);
      res.on('close', () => clearTimeout(timer));
    });
    upstream.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    broker = await startMosquitto();
  });
  after(async () => {
    for (const g of gateways) await g.stop('SIGKILL');
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (drain: { delayMs: number; timeoutMs: number }): Promise<StartedGateway> => {
    const g = await startGatewayProcess({
      dir,
      upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      broker: broker.address,
      config: { drain, timeouts: { shutdownGraceMs: drain.timeoutMs } },
    });
    gateways.push(g);
    return g;
  };

  it('fails /healthz first, keeps serving during the delay, moves MQTT clients, loses no request, exits 0', async () => {
    const gw = await start({ delayMs: 400, timeoutMs: 5000 });
    const load = steadyLoad(`${gw.http}/slow?delayMs=100`, 6, LOCAL_UID);
    // An MQTT 5 session: the drain hands it to the MQTT stage, which tells it to move on.
    const mqttClient = await connectAsync(gw.mqtt, {
      clientId: '10000006',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const told = new Promise<number | undefined>((resolve) => {
      mqttClient.once('disconnect', (p: { reasonCode?: number }) => resolve(p.reasonCode));
      mqttClient.once('close', () => resolve(undefined));
    });
    await waitFor('traffic flows before the drain', () => load.ok > 0);
    assert.ok(load.lost.length === 0, `lost before the drain: ${load.lost.join(', ')}`);

    gw.child.kill('SIGTERM');
    await within('/healthz failing after SIGTERM', healthzFails(gw.admin));
    // The listener is still open during the delay: a fresh request is served after /healthz failed.
    const during = await request(`${gw.http}/during`, { headers: { ...LOCAL_UID, connection: 'close' } });
    assert.equal(during.statusCode, 200, 'served while /healthz fails (the LVS delay window)');
    await during.body.text();
    await gw.waitFor(/drain: no longer accepting connections/);

    assert.equal(await within('the drained gateway to exit', gw.exited), 0, 'drain finished cleanly');
    await load.stop();
    assert.deepEqual(load.lost, [], 'no request that reached the gateway was lost');
    assert.ok(load.refused > 0, 'new connections are refused once the listener closed');
    // Told to reconnect elsewhere (MQTT 5 0x9C "use another server" / 0x9D "server moved"), not dropped.
    const code = await within('the MQTT client told to move', told);
    assert.ok(code === 0x9c || code === 0x9d, `MQTT DISCONNECT reason ${String(code)}`);
    mqttClient.end(true);
  });

  it('cuts a request that outlives the drain timeout and exits 1', async () => {
    const gw = await start({ delayMs: 0, timeoutMs: 300 });
    const arrived = once(upstream, 'request') as Promise<[IncomingMessage]>;
    const slow = request(`${gw.http}/?delayMs=60000`, { headers: LOCAL_UID }).then(
      async (res) => {
        await res.body.text();
        return `answered ${res.statusCode}`;
      },
      () => 'cut',
    );
    await within('the slow request at the upstream', arrived);
    gw.child.kill('SIGTERM');
    assert.equal(await within('the cut gateway to exit', gw.exited), 1, 'a drain that had to cut exits 1');
    assert.match(await slow, /^(cut|answered 5\d\d)$/, 'the client did not get a 200');
  });
});
