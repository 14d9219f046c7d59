/**
 * `zonegate_mqtt_sessions{zone}`: the sessions relayed now, by the zone serving them, read at
 * scrape time. The drill console shows it per zone; a failover moves the count.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { createMetrics } from '../../src/admin/metrics.js';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from './fixture.js';

describe('mqtt sessions by zone', () => {
  let f: Fixture | undefined;
  const clients: MqttClient[] = [];
  after(async () => {
    await Promise.all(clients.map(endClient));
    await f?.close();
  });

  it('counts relayed sessions per serving zone, and follows a failover', async () => {
    f = await startFixture({ zones: ['rz00', 'rz02'], config: { migration: { movesPerSecond: 100 } } });
    const fx = f;
    const metrics = createMetrics();
    metrics.trackMqttSessions(() => fx.server.sessionsByZone());
    const sessions = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const m of (await metrics.registry.metrics()).matchAll(
        /^zonegate_mqtt_sessions\{zone="([^"]+)"\} (\d+)$/gm,
      ))
        out[m[1] as string] = Number(m[2]);
      return out;
    };
    // uid 100 → shard 00 (rz00); uids 120 and 121 → shards 20, 21 (rz02).
    for (const id of ['100-a', '120-b', '121-c'])
      clients.push(await connectClient(fx.port, { clientId: id, protocolVersion: 5 }));
    await waitFor('three relayed sessions', () => fx.server.describeConnections().length === 3);
    assert.deepEqual(await sessions(), { rz00: 1, rz02: 2 });

    // rz00 down: its session moves to its first standby, rz02; rz00 reads nothing any more.
    fx.setZoneStatus('rz00', 'down');
    await waitFor('the rz00 session moved', () =>
      fx.server.describeConnections().every((c) => c.zone === 'rz02'),
    );
    assert.deepEqual(await sessions(), { rz02: 3 });
  });
});
