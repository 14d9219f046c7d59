/**
 * Publishers and subscribers of one zone moved by the same map change. Brokers of two zones do
 * not bridge: a publisher that switched to the new broker before a subscriber was subscribed
 * there would publish past it, and one still at the old broker would publish past a
 * subscriber whose old session was already left. The gateway switches a change's moves
 * together (every new session subscribed first) and drains old sessions until all switched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from './fixture.js';
import { RawClient } from './raw-client.js';

describe('mqtt: publishers and subscribers of one zone moved together', () => {
  let f: Fixture;
  const clients: MqttClient[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    f = await startFixture({
      zones: ['rz00', 'rz02'],
      // Paced one move at a time: the six moves of a flip start over ~300 ms, publishers first.
      config: { migration: { movesPerSecond: 20 }, timeouts: { migrationDrainQuietMs: 50 } },
    });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await Promise.all(clients.map(endClient));
    await f.close();
  });

  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 4 ? '3.1.1' : '5'} clean sessions: every message a publisher got PUBACK for reaches every subscriber`, async () => {
      f.setZoneStatus('rz00', 'up');
      f.setZoneStatus('rz02', 'up');
      await waitFor('settled', () => f.server.movesQueued === 0);
      const topic = `zone/v${version}`;
      // Publishers connect first: without the batch they would be moved (and switched) first.
      const pubs: MqttClient[] = [];
      for (let i = 0; i < 3; i++) {
        pubs.push(
          await connectClient(f.port, { clientId: `30${i}-pub-v${version}`, protocolVersion: version }),
        );
      }
      clients.push(...pubs);
      const subs: RawClient[] = [];
      for (let i = 3; i < 6; i++) {
        const s = await RawClient.connect(f.port, {
          clientId: `30${i}-sub-v${version}`,
          version,
          autoAck: true,
        });
        await s.subscribe(topic, 1);
        subs.push(s);
      }
      raws.push(...subs);
      const uids = ['300', '301', '302', '303', '304', '305'];
      const zones = (): (string | null | undefined)[] =>
        uids.map((u) => f.server.describeConnections().find((c) => c.uid === u)?.zone);
      await waitFor('all at rz00', () => zones().every((z) => z === 'rz00'));

      const acked: string[] = [];
      let stop = false;
      const loops = pubs.map(async (p, i) => {
        for (let n = 0; !stop; n++) {
          const payload = `p${i}-${n}`;
          await p.publishAsync(topic, payload, { qos: 1 });
          acked.push(payload);
        }
      });
      await waitFor('publishing', () => acked.length >= 30);
      const holdsExpired = f.server.stats.batchHoldsExpired;
      f.setZoneStatus('rz00', 'down');
      await waitFor('all at rz02', () => zones().every((z) => z === 'rz02'));
      const moved = acked.length;
      await waitFor('publishing at rz02', () => acked.length >= moved + 30);
      stop = true;
      await Promise.all(loops);
      for (const s of subs) {
        await s.until('every acknowledged message', () => acked.every((p) => s.payloads().has(p)));
      }
      assert.equal(f.server.stats.batchHoldsExpired, holdsExpired, 'the batch switched together');
      assert.ok(subs.every((s) => !s.closed));
      await Promise.all(pubs.map(endClient));
      for (const s of subs) s.destroy();
      await waitFor('all gone', () => f.server.connectionCount === 0);
    });
  }
});
