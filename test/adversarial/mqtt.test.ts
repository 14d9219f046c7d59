/**
 * Hostile or broken MQTT clients during a move: one that never acknowledges, one that floods,
 * an old session that never goes quiet. Each is bounded, counted with its reason, and costs
 * nobody else anything; a session that may still hold messages is never ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from '../mqtt/fixture.js';
import { RawClient } from '../mqtt/raw-client.js';

describe('adversarial mqtt clients during a move', () => {
  let f: Fixture;
  const others: MqttClient[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    f = await startFixture({
      zones: ['rz00', 'rz02'],
      mosquitto: { extraConfig: ['max_inflight_messages 10'] },
      config: {
        limits: { inflightWindow: 10, migrationDrainMessages: 20 },
        migration: { movesPerSecond: 1000 },
        timeouts: { migrationDrainQuietMs: 200, migrationDrainMaxMs: 400 },
      },
    });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await Promise.all(others.map(endClient));
    await f.close();
  });

  const zoneOf = (uid: string): string | null | undefined =>
    f.server.describeConnections().find((c) => c.uid === uid)?.zone;
  const flip = async (uid: string): Promise<void> => {
    f.setZoneStatus('rz00', 'down');
    await waitFor(`uid ${uid} at rz02`, () => zoneOf(uid) === 'rz02');
  };
  const restore = async (): Promise<void> => {
    f.setZoneStatus('rz00', 'up');
    await waitFor('settled', () => f.server.movesQueued === 0);
  };

  it('never acknowledges: its drain is abandoned at the time bound, and its old session keeps the messages', async () => {
    await restore();
    const sub = await RawClient.connect(f.port, {
      clientId: '208-never',
      version: 5,
      clean: false,
      sessionExpiry: 300,
      receiveMaximum: 10,
    });
    raws.push(sub);
    await sub.subscribe('never/208', 1);
    await waitFor('at rz00', () => zoneOf('208') === 'rz00');
    const pub = await connectClient(f.brokers.get('rz00')?.port as number, { clientId: 'pub-208' });
    others.push(pub);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => pub.publishAsync('never/208', `n${i}`, { qos: 1 })),
    );
    await sub.until('a full window', () => sub.received.length === 10);
    const abandoned = f.server.stats.drainsAbandoned.get('time-limit') ?? 0;
    await flip('208');
    await waitFor(
      'drain abandoned',
      () => f.server.stats.drainsAbandoned.get('time-limit') === abandoned + 1,
    );
    assert.equal(sub.closed, false, 'the client itself is not punished');
    // Not ended with Session Expiry 0: the old session still holds all 30 for this client.
    sub.destroy();
    await waitFor('gone', () => zoneOf('208') === undefined);
    const back = await RawClient.connect(f.brokers.get('rz00')?.port as number, {
      clientId: '208-never',
      version: 5,
      clean: false,
      sessionExpiry: 300,
      autoAck: true,
    });
    raws.push(back);
    await back.until('the 30 kept at rz00', () => back.payloads().size === 30);
  });

  it('an old session that never goes quiet: the drain is abandoned at the message bound', async () => {
    await restore();
    const sub = await RawClient.connect(f.port, { clientId: '209-busy', version: 4, autoAck: true });
    raws.push(sub);
    await sub.subscribe('busy/209', 1);
    await waitFor('at rz00', () => zoneOf('209') === 'rz00');
    const pub = await connectClient(f.brokers.get('rz00')?.port as number, { clientId: 'pub-209' });
    others.push(pub);
    const limited = f.server.stats.drainsAbandoned.get('message-limit') ?? 0;
    await flip('209');
    // Someone keeps publishing at the old zone's broker after the client moved: a burst, so the
    // session is never quiet long enough to end the drain the ordinary way.
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => pub.publishAsync('busy/209', `b${i}`, { qos: 1 })),
    );
    await waitFor(
      'drain abandoned',
      () => f.server.stats.drainsAbandoned.get('message-limit') === limited + 1,
    );
    assert.ok(sub.payloads().size >= 20);
    assert.equal(sub.closed, false);
  });

  it('floods QoS 1 publishes while it is moved: each acknowledged one reaches a broker, reading stays bounded', async () => {
    await restore();
    const seen = new Set<string>();
    for (const zone of ['rz00', 'rz02']) {
      const s = await connectClient(f.brokers.get(zone)?.port as number, { clientId: `seen-${zone}` });
      others.push(s);
      s.on('message', (_t, m) => seen.add(m.toString()));
      await s.subscribeAsync('flood/#', { qos: 1 });
    }
    const c = await RawClient.connect(f.port, { clientId: '200-flood', version: 4 });
    raws.push(c);
    await waitFor('at rz00', () => zoneOf('200') === 'rz00');
    const acked = new Set<number>();
    c.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'puback') acked.add(p.messageId ?? 0);
    });
    const n = 3000;
    const frames = Array.from({ length: n }, (_, i) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: 'flood/200',
        payload: Buffer.from(`f${i + 1}`),
        qos: 1,
        dup: false,
        retain: false,
        messageId: i + 1,
      }),
    );
    c.socket.write(Buffer.concat(frames));
    await flip('200');
    await waitFor('every publish acknowledged', () => acked.size === n, 20_000);
    await waitFor('every message at a broker', () => seen.size === n, 20_000);
    // The gateway never had more than its window unacknowledged towards a broker.
    assert.ok(f.server.describeConnections().every((v) => v.inflightOut <= 10));
  });

  it('half-closes without DISCONNECT: its session ends at once with its Will, and a neighbour carries on', async () => {
    await restore();
    const watcher = await connectClient(f.brokers.get('rz00')?.port as number, { clientId: 'watch-201' });
    others.push(watcher);
    const wills: string[] = [];
    watcher.on('message', (topic, m) => {
      if (topic === 'will/201') wills.push(m.toString());
    });
    await watcher.subscribeAsync('will/201', { qos: 0 });
    const neighbour = await RawClient.connect(f.port, { clientId: '202-neighbour', version: 4 });
    raws.push(neighbour);
    const c = await RawClient.connect(f.port, {
      clientId: '201-half',
      version: 4,
      will: { topic: 'will/201', payload: 'gone' },
    });
    raws.push(c);
    await waitFor('at rz00', () => zoneOf('201') === 'rz00' && zoneOf('202') !== undefined);
    // FIN after the CONNACK, nothing else: MQTT has no half-close, the session is over.
    c.socket.end();
    await waitFor('the gateway closed the connection', () => c.closed);
    await waitFor('the session left the gateway', () => zoneOf('201') === undefined);
    // Ended without DISCONNECT: the broker publishes the Will (MQTT 3.1.1 §3.1.2.5).
    await waitFor('the Will published', () => wills.length === 1);
    assert.deepEqual(wills, ['gone']);
    await neighbour.subscribe('n/202', 1);
    await neighbour.publish('n/202', 'still here', 1);
    await neighbour.until('its own message back', () =>
      neighbour.received.some((r) => r.payload === 'still here'),
    );
    assert.equal(neighbour.closed, false);
  });
});
