/**
 * Every bad or refused CONNECT gets its code: MQTT 5 reason codes in a CONNACK, 3.1.1 return
 * codes where 3.1.1 has one, and a plain close where it has none (malformed, §4.8).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import mqttPacket, { type IConnectPacket } from 'mqtt-packet';
import type { MqttServer } from '../../src/mqtt/index.js';
import { rawExchange, startFixture, startStage, waitFor, type Fixture } from './fixture.js';

function connect(version: 4 | 5, over: Partial<IConnectPacket> = {}): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clientId: '100-x',
      clean: true,
      keepalive: 30,
      ...over,
    },
    { protocolVersion: version },
  );
}

/** MQTT 5 CONNACK: 0x20, remaining length, flags, reason code, properties. */
function v5Code(data: Buffer): number {
  assert.equal(data[0], 0x20, `expected a CONNACK, got ${data.toString('hex')}`);
  return data[3] as number;
}

function v4Connack(rc: number): Buffer {
  return Buffer.from([0x20, 0x02, 0x00, rc]);
}

describe('mqtt CONNECT refusals', () => {
  let f: Fixture;
  let usernamePort: number;
  let tiny: MqttServer;
  let tinyPort: number;
  let tinyFirstPort: number;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    f = await startFixture({
      zones: ['rz00'],
      config: { limits: { maxConnectBytes: 1024 }, timeouts: { connectTimeoutMs: 300 } },
    });
    const s1 = await startStage(f.holder, {
      config: { uid: { source: 'username', pattern: '^u(?<uid>[0-9]+)$' } },
    });
    closers.push(() => s1.close());
    usernamePort = s1.port;
    // Each listener holds at most maxConnections; the stage's limit counts them all together.
    const s2 = await startStage(f.holder, {
      config: { limits: { maxConnections: 1 } },
      listeners: [
        { name: 'a', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'b', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      ],
    });
    closers.push(() => s2.close());
    tiny = s2.server;
    tinyPort = s2.portOf('b');
    tinyFirstPort = s2.portOf('a');
  });
  after(async () => {
    for (const c of closers) await c();
    await f.close();
  });

  it('malformed CONNECT: MQTT 5 gets 0x81, 3.1.1 is closed without CONNACK', async () => {
    const bad5 = connect(5);
    bad5[9] = (bad5[9] as number) | 0x01; // reserved Connect Flags bit (§3.1.2.3)
    const r5 = await rawExchange(f.port, bad5);
    assert.equal(v5Code(r5.data), 0x81);
    assert.ok(r5.closed);
    const bad4 = connect(4);
    bad4[9] = (bad4[9] as number) | 0x01;
    const r4 = await rawExchange(f.port, bad4);
    assert.equal(r4.data.length, 0);
    assert.ok(r4.closed);
  });

  it('CONNECT above the pre-CONNECT byte cap: MQTT 5 gets 0x95 before the body is sent', async () => {
    const big = connect(5, { password: Buffer.alloc(4000, 1), username: 'x' });
    const r = await rawExchange(f.port, big.subarray(0, 20));
    assert.equal(v5Code(r.data), 0x95);
    assert.ok(r.closed);
  });

  it('remaining length with a fifth continuation byte is malformed and closed', async () => {
    const r = await rawExchange(f.port, Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
    assert.equal(r.data.length, 0);
    assert.ok(r.closed);
  });

  it('unsupported protocol level gets 3.1.1 CONNACK 0x01', async () => {
    const c = connect(4);
    c[8] = 6; // protocol level (§3.1.2.2)
    const r = await rawExchange(f.port, c);
    assert.deepEqual(r.data, v4Connack(0x01));
    assert.ok(r.closed);
  });

  it('client id without a uid: 0x85 (MQTT 5) / 0x02 (3.1.1)', async () => {
    const r5 = await rawExchange(f.port, connect(5, { clientId: 'no-uid-here' }));
    assert.equal(v5Code(r5.data), 0x85);
    const r4 = await rawExchange(f.port, connect(4, { clientId: 'no-uid-here' }));
    assert.deepEqual(r4.data, v4Connack(0x02));
  });

  it('3.1.1 empty client id with a persistent session: 0x02', async () => {
    const c = connect(4, { clientId: '', clean: true });
    c[9] = (c[9] as number) & ~0x02; // Clean Session 0 (mqtt-packet refuses to generate it)
    const r = await rawExchange(f.port, c);
    assert.deepEqual(r.data, v4Connack(0x02));
  });

  it('uid from the user name: a user name without one gets 0x86 / 0x04, a good one connects', async () => {
    const r5 = await rawExchange(usernamePort, connect(5, { username: 'bob' }));
    assert.equal(v5Code(r5.data), 0x86);
    const r4 = await rawExchange(usernamePort, connect(4, { username: 'bob' }));
    assert.deepEqual(r4.data, v4Connack(0x04));
    const ok = await rawExchange(usernamePort, connect(4, { username: 'u100', clientId: 'anything' }), 500);
    assert.deepEqual(ok.data, v4Connack(0x00));
  });

  it('MQTT 5 enhanced authentication gets 0x8C', async () => {
    const r = await rawExchange(f.port, connect(5, { properties: { authenticationMethod: 'SCRAM-SHA-1' } }));
    assert.equal(v5Code(r.data), 0x8c);
  });

  it('zone broker unreachable: 0x88 / 0x03', async () => {
    // uid 110 is in shard 10 (rz01), whose broker address is a closed port.
    const r5 = await rawExchange(f.port, connect(5, { clientId: '110-x' }));
    assert.equal(v5Code(r5.data), 0x88);
    const r4 = await rawExchange(f.port, connect(4, { clientId: '110-x' }));
    assert.deepEqual(r4.data, v4Connack(0x03));
  });

  it('no live zone: 0x88 / 0x03', async () => {
    // rz00 fails over to rz02 then rz04: all three down leaves shard 00-09 without a zone.
    f.change((d) => {
      for (const z of ['rz00', 'rz02', 'rz04']) (d.zones[z] as { status?: string }).status = 'down';
    });
    try {
      const r5 = await rawExchange(f.port, connect(5));
      assert.equal(v5Code(r5.data), 0x88);
      const r4 = await rawExchange(f.port, connect(4));
      assert.deepEqual(r4.data, v4Connack(0x03));
    } finally {
      f.change((d) => {
        for (const z of ['rz00', 'rz02', 'rz04']) (d.zones[z] as { status?: string }).status = 'up';
      });
    }
  });

  it('first packet not a CONNECT is closed without answer', async () => {
    const r = await rawExchange(f.port, Buffer.from([0xc0, 0x00]));
    assert.equal(r.data.length, 0);
    assert.ok(r.closed);
  });

  it('no CONNECT within connectTimeoutMs: closed', async () => {
    const r = await rawExchange(f.port, Buffer.from([0x10]), 3000);
    assert.ok(r.closed);
    assert.ok(f.logs.some((l) => l.fields.code === 'ZG_ERR_MQTT_CONNECT_TIMEOUT'));
  });

  it('connection limit: CONNACK 0x89 (MQTT 5) / 0x03 (3.1.1)', async () => {
    // Occupies the one slot until the refusals are in (not for a fixed time a loaded machine outlasts).
    const holder = net.connect({ host: '127.0.0.1', port: tinyFirstPort });
    holder.on('error', () => undefined);
    try {
      await waitFor('the first connection accepted', () => tiny.connectionCount === 1);
      const r5 = await rawExchange(tinyPort, connect(5));
      assert.equal(v5Code(r5.data), 0x89);
      const r4 = await rawExchange(tinyPort, connect(4));
      assert.deepEqual(r4.data, v4Connack(0x03));
    } finally {
      holder.destroy();
    }
  });

  it('counted every refusal by the code the client received', () => {
    const refused = f.server.stats.snapshot().refused as Record<string, number>;
    // MQTT 5 reason codes; 3.1.1 return codes (0x01 also for an unknown level); closed: no CONNACK.
    for (const code of ['0x81', '0x95', '0x85', '0x8c', '0x88', '0x01', '0x02', '0x03', 'closed'])
      assert.ok((refused[code] ?? 0) > 0, code);
    assert.equal(refused['0x84'], undefined, 'nobody received 0x84');
  });
});
