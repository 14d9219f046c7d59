/**
 * Fallback mode (`migration.mode: disconnect`): MQTT 5 clients get DISCONNECT 0x9D "Server
 * moved" with the Server Reference (§4.11), 3.1.1 clients are closed. Also the path taken when
 * a transparent move is impossible (the new zone's broker is down).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from './fixture.js';

function disconnectOf(c: MqttClient): Promise<IDisconnectPacket | 'closed'> {
  return new Promise((resolve) => {
    c.once('disconnect', (p: IDisconnectPacket) => resolve(p));
    c.once('close', () => resolve('closed'));
  });
}

describe('mqtt fallback: tell clients to reconnect', () => {
  const fixtures: Fixture[] = [];
  const clients: MqttClient[] = [];
  after(async () => {
    await Promise.all(clients.map(endClient));
    for (const f of fixtures) await f.close();
  });

  it('disconnect mode: MQTT 5 gets 0x9D with the server reference, 3.1.1 is closed', async () => {
    const f = await startFixture({
      zones: ['rz00', 'rz02'],
      config: {
        migration: {
          mode: 'disconnect',
          disconnectReason: 'server-moved',
          serverReference: 'mqtt.zg.example:8883',
        },
      },
    });
    fixtures.push(f);
    const v5 = await connectClient(f.port, { clientId: '100-fb5', protocolVersion: 5 });
    const v4 = await connectClient(f.port, { clientId: '101-fb4', protocolVersion: 4 });
    clients.push(v5, v4);
    const d5 = disconnectOf(v5);
    const d4 = disconnectOf(v4);
    f.setZoneStatus('rz00', 'down');
    const p5 = await d5;
    assert.notEqual(p5, 'closed');
    assert.equal((p5 as IDisconnectPacket).reasonCode, 0x9d);
    assert.equal((p5 as IDisconnectPacket).properties?.serverReference, 'mqtt.zg.example:8883');
    assert.equal(await d4, 'closed');
    await waitFor('both gone', () => f.server.connectionCount === 0, 2000);
    assert.equal(f.server.stats.movesDisconnected, 2);
  });

  it('transparent mode, new broker unreachable: MQTT 5 gets 0x9C "Use another server"', async () => {
    // rz01 fails over to rz03 (no broker: a closed port).
    const f = await startFixture({ zones: ['rz01'] });
    fixtures.push(f);
    const v5 = await connectClient(f.port, { clientId: '110-fb', protocolVersion: 5 });
    clients.push(v5);
    const d5 = disconnectOf(v5);
    f.setZoneStatus('rz01', 'down');
    const p5 = await d5;
    assert.notEqual(p5, 'closed');
    assert.equal((p5 as IDisconnectPacket).reasonCode, 0x9c);
    assert.equal(f.server.stats.movesFailed, 1);
  });
});
