/**
 * Limits and liveness: topic length and depth, bad filters, packet size from either side,
 * subscription quota, client keepalive and a dead broker. Bad input closes that connection
 * only (the others keep working).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import {
  connectClient,
  endClient,
  rawExchange,
  startFixture,
  startStage,
  waitFor,
  within,
  type Fixture,
} from './fixture.js';

function connectFor(clientId: string): Buffer {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 },
    { protocolVersion: 4 },
  );
}

function ended(c: MqttClient): Promise<IDisconnectPacket | 'closed'> {
  return new Promise((resolve) => {
    c.once('disconnect', (p: IDisconnectPacket) => resolve(p));
    c.once('close', () => resolve('closed'));
  });
}

describe('mqtt limits and liveness', () => {
  let f: Fixture;
  const clients: MqttClient[] = [];

  before(async () => {
    f = await startFixture({
      zones: ['rz00'],
      config: {
        limits: {
          maxTopicBytes: 32,
          maxTopicLevels: 4,
          maxPacketBytes: 1024,
          maxSubscriptions: 2,
          inflightWindow: 8,
        },
        timeouts: { upstreamPingIntervalMs: 200, upstreamResponseTimeoutMs: 300 },
      },
    });
  });
  after(async () => {
    await Promise.all(clients.map(endClient));
    await f.close();
  });

  async function client(id: string, version: 4 | 5): Promise<MqttClient> {
    const c = await connectClient(f.port, { clientId: id, protocolVersion: version, keepalive: 0 });
    clients.push(c);
    return c;
  }

  it('a topic name too long or too deep: MQTT 5 DISCONNECT 0x90, 3.1.1 closed; others unaffected', async () => {
    const bystander = await client('109-bystander', 4);
    const long5 = await client('100-long5', 5);
    const e5 = ended(long5);
    long5.publish('x'.repeat(40), 'm');
    const p5 = await e5;
    assert.notEqual(p5, 'closed');
    assert.equal((p5 as IDisconnectPacket).reasonCode, 0x90);
    const deep4 = await client('101-deep4', 4);
    const e4 = ended(deep4);
    deep4.publish('a/b/c/d/e', 'm');
    assert.equal(await e4, 'closed');
    await bystander.publishAsync('still/here', 'ok', { qos: 1 });
  });

  it('a misplaced wildcard in a SUBSCRIBE filter: DISCONNECT 0x8F', async () => {
    // Raw bytes: the mqtt client refuses to send such a filter.
    const v5 = { protocolVersion: 5 };
    const bytes = Buffer.concat([
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clientId: '102-filter',
          clean: true,
          keepalive: 0,
        },
        v5,
      ),
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 0 }] },
        v5,
      ),
    ]);
    const r = await rawExchange(f.port, bytes);
    assert.ok(r.closed);
    const disconnect = r.data.subarray(r.data.indexOf(0xe0));
    assert.equal(disconnect[0], 0xe0, r.data.toString('hex'));
    assert.equal(disconnect[2], 0x8f);
  });

  it('a packet above maxPacketBytes from the client: DISCONNECT 0x95', async () => {
    const c = await client('103-big', 5);
    const e = ended(c);
    c.publish('big', Buffer.alloc(2000, 1));
    const p = await e;
    assert.equal((p as IDisconnectPacket).reasonCode, 0x95);
  });

  it('a packet above maxPacketBytes from the broker closes that client only', async () => {
    const c = await client('104-gets-big', 4);
    await c.subscribeAsync('big/down', { qos: 0 });
    const other = await client('105-other', 4);
    const e = ended(c);
    const direct = await connectClient(f.brokers.get('rz00')?.port as number, { clientId: 'pub-big' });
    clients.push(direct);
    await direct.publishAsync('big/down', Buffer.alloc(4000, 2), { qos: 1 });
    assert.equal(await e, 'closed');
    await other.publishAsync('fine', 'ok', { qos: 1 });
  });

  it('more subscriptions than maxSubscriptions are refused in the SUBACK (0x80 in 3.1.1)', async () => {
    const c = await client('106-subs', 4);
    await assert.rejects(
      c.subscribeAsync(['s/1', 's/2', 's/3'], { qos: 1 }),
      (e: { packet?: { granted?: unknown } }) => {
        assert.deepEqual(e.packet?.granted, [128, 128, 128]);
        return true;
      },
    );
    const ok = await c.subscribeAsync(['s/1', 's/2'], { qos: 1 });
    assert.deepEqual(
      ok.map((g) => g.qos),
      [1, 1],
    );
  });

  it('inflight window: reading from a client pauses at inflightWindow unacknowledged QoS 1, and resumes', async () => {
    // Its own server: default broker liveness timeouts (this file's are short on purpose).
    const gw = await startStage(f.holder, { config: { limits: { inflightWindow: 8 } } });
    const server = gw.server;
    const pid = f.brokers.get('rz00')?.pid as number;
    const inflight = (): number => server.describeConnections()[0]?.inflightOut ?? -1;
    try {
      const c = await connectClient(gw.port, {
        clientId: '209-window',
        protocolVersion: 4,
        keepalive: 0,
      });
      clients.push(c);
      process.kill(pid, 'SIGSTOP');
      const acks: Promise<unknown>[] = [];
      // One at a time up to the window, each read by the gateway before the next is sent.
      for (let i = 0; i < 8; i++) {
        acks.push(c.publishAsync('w/x', String(i), { qos: 1 }));
        await waitFor(`publish ${i} read`, () => inflight() === i + 1);
      }
      // The window is full: what the client sends now stays unread.
      for (let i = 8; i < 40; i++) acks.push(c.publishAsync('w/x', String(i), { qos: 1 }));
      await new Promise<void>((resolve) => c.stream.write(Buffer.alloc(0), () => resolve()));
      // A whole exchange with the gateway on another connection (a CONNECT for zone rz01, whose
      // broker is gone, refused) gives it every chance to read them if it would.
      const refused = await rawExchange(gw.port, connectFor('110-probe'));
      assert.deepEqual(refused.data, Buffer.from([0x20, 0x02, 0x00, 0x03]));
      assert.equal(inflight(), 8);
      process.kill(pid, 'SIGCONT');
      // All 40 acknowledged once the broker answers again.
      await within('all 40 acknowledged after SIGCONT', Promise.all(acks));
      assert.equal(inflight(), 0);
    } finally {
      process.kill(pid, 'SIGCONT');
      await gw.close();
    }
  });

  it('a client silent past 1.5 x keepalive is closed', async () => {
    const connect = mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: '107-silent',
        clean: true,
        keepalive: 1,
      },
      { protocolVersion: 4 },
    );
    const r = await rawExchange(f.port, connect, 4000);
    assert.ok(r.closed, 'closed');
    assert.deepEqual(r.data.subarray(0, 4), Buffer.from([0x20, 0x02, 0x00, 0x00]));
    // The gateway's own account: closed for silence, after 1.5 x the keepalive of 1 s.
    const line = f.logs.find(
      (l) => l.fields.code === 'ZG_ERR_MQTT_KEEPALIVE_TIMEOUT' && l.fields.side === 'client',
    );
    const silentMs = Number(/silent for ([0-9.]+) ms/.exec(line?.msg ?? '')?.[1]);
    assert.ok(silentMs >= 1500, line?.msg);
  });

  it('a broker that stops answering is noticed (gateway PINGREQ unanswered) and its client closed', async () => {
    const c = await client('108-deadbroker', 4);
    const e = ended(c);
    const pid = f.brokers.get('rz00')?.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      assert.equal(await within('the client closed after its broker went silent', e), 'closed');
      assert.ok(f.server.stats.brokersLost > 0);
      assert.ok(
        f.logs.some((l) => l.fields.code === 'ZG_ERR_MQTT_KEEPALIVE_TIMEOUT' && l.msg === 'mqtt broker lost'),
        'lost for its silence after the gateway PINGREQ',
      );
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
