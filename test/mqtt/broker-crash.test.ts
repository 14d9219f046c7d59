/**
 * A zone goes down together with its broker (the usual failover): the broker dies right after
 * the flip, before the client's move has run. The client keeps its connection, its QoS 1
 * publishes are resent at the new broker, and it receives there.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from './fixture.js';

describe('mqtt failover when the old broker dies', () => {
  let f: Fixture | undefined;
  const clients: MqttClient[] = [];
  after(async () => {
    await Promise.all(clients.map(endClient));
    await f?.close();
  });

  it('keeps the client connected across the flip and the broker crash', async () => {
    // 2 moves/s: the crash lands while the move still waits for its token.
    f = await startFixture({ zones: ['rz00', 'rz02'], config: { migration: { movesPerSecond: 2 } } });
    const fx = f;
    const filler = await connectClient(fx.port, { clientId: '101-filler', protocolVersion: 4 });
    const client = await connectClient(fx.port, { clientId: '100-crash', protocolVersion: 5 });
    clients.push(filler, client);
    let closed = false;
    client.on('close', () => (closed = true));
    const got: string[] = [];
    client.on('message', (_t, m) => got.push(m.toString()));
    await client.subscribeAsync('crash/#', { qos: 1 });
    const seen = await connectClient(fx.brokers.get('rz02')?.port as number, { clientId: 'seen-crash' });
    clients.push(seen);
    const arrived: string[] = [];
    seen.on('message', (_t, m) => arrived.push(m.toString()));
    await seen.subscribeAsync('up/crash', { qos: 1 });

    fx.setZoneStatus('rz00', 'down');
    process.kill(fx.brokers.get('rz00')?.pid as number, 'SIGKILL');
    // The client's move waits for its token; its broker's loss is noticed first.
    await waitFor('broker loss noticed', () => fx.server.stats.brokersLost >= 1);
    const ack = client.publishAsync('up/crash', 'sent-while-brokerless', { qos: 1 });
    await waitFor(
      'moved to rz02',
      () => fx.server.describeConnections().find((c) => c.uid === '100')?.zone === 'rz02',
    );
    await ack;
    await waitFor('publish arrived at rz02', () => arrived.includes('sent-while-brokerless'));
    await seen.publishAsync('crash/x', 'via-rz02', { qos: 1 });
    await waitFor('message via rz02', () => got.includes('via-rz02'));
    assert.equal(closed, false);
    assert.ok(fx.server.stats.brokersLost >= 1);
  });
});
