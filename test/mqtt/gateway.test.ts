/**
 * End to end through the gateway runtime: a config with an `mqtt` listener and an `mqtt`
 * section, the zone map from a file; a client lands on its zone broker, and editing the map
 * file moves it transparently.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { validateConfig } from '../../src/core/config.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { serializeZoneMap } from '../../src/zonemap/index.js';
import { startMosquittos, type Mosquitto } from '../helpers/mosquitto.js';
import { connectClient, deadAddress, endClient, loadExampleDoc, waitFor } from './fixture.js';

describe('mqtt through the gateway runtime', () => {
  let dir: string;
  let mapFile: string;
  let brokers: Mosquitto[];
  let gateway: Gateway;
  let doc: ReturnType<typeof loadExampleDoc>;
  const clients: MqttClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zg-mqtt-gw-'));
    mapFile = join(dir, 'map.yaml');
    brokers = await startMosquittos(2);
    const dead = await deadAddress();
    doc = loadExampleDoc();
    for (const [name, zone] of Object.entries(doc.zones)) {
      const b = name === 'rz00' ? brokers[0] : name === 'rz02' ? brokers[1] : undefined;
      zone.upstreams = { ...zone.upstreams, mqtt: [b?.address ?? dead] };
    }
    writeFileSync(mapFile, serializeZoneMap(doc, 'yaml'));
    const config = validateConfig({
      idc: 'hz-1',
      listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 0, host: '127.0.0.1' }],
      zonemap: { file: mapFile },
      mqtt: { migration: { movesPerSecond: 1000 } },
    });
    gateway = await startGateway({ config });
  });
  after(async () => {
    await Promise.all(clients.map(endClient));
    await gateway?.close();
    await Promise.all((brokers ?? []).map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists its MQTT listener with the bound port (what the "gateway up" line logs)', () => {
    assert.deepEqual(gateway.urls(), [
      { name: 'mqtt', url: `mqtt://127.0.0.1:${gateway.address('mqtt').port}` },
    ]);
  });

  it('routes by uid and follows a map file edit without dropping the client', async () => {
    const port = gateway.address('mqtt').port;
    const c = await connectClient(port, { clientId: '107-gw', protocolVersion: 5 });
    clients.push(c);
    let closed = false;
    c.on('close', () => (closed = true));
    const got: string[] = [];
    c.on('message', (_t, m) => got.push(m.toString()));
    await c.subscribeAsync('gw/#', { qos: 1 });
    const atOld = await connectClient(brokers[0]?.port as number, { clientId: 'pub-gw-old' });
    const atNew = await connectClient(brokers[1]?.port as number, { clientId: 'pub-gw-new' });
    clients.push(atOld, atNew);
    await atOld.publishAsync('gw/1', 'via-rz00', { qos: 1 });
    await waitFor('first message', () => got.includes('via-rz00'), 3000);

    (doc.zones.rz00 as { status?: string }).status = 'down';
    doc.version += 1;
    writeFileSync(mapFile, serializeZoneMap(doc, 'yaml'));
    await waitFor('map applied', () => gateway.holder.current.version === doc.version, 10_000);
    // Poll: publish at rz02 until the moved session receives.
    await waitFor(
      'message via rz02',
      () => {
        void atNew.publishAsync('gw/2', 'via-rz02', { qos: 0 });
        return got.includes('via-rz02');
      },
      5000,
    );
    assert.equal(closed, false);
  });
});
