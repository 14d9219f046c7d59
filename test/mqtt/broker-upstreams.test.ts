/**
 * Brokers as upstream endpoints: a zone with two real mosquittos. One is killed (by its PID):
 * the connect that finds it refusing is ejected and the client lands on the zone's other
 * broker, and the next connect goes straight there. With active checks on, the killed broker
 * is marked down by its CONNECT/CONNACK probe, and once it is back on its port it is used
 * again. mosquitto_pub / mosquitto_sub are the outside clients; a retained message at one
 * broker shows which broker a client landed on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { EventBus } from '../../src/core/events.js';
import { fnv1a32 } from '../../src/router/index.js';
import { compileZoneMap, ZoneMapHolder } from '../../src/zonemap/index.js';
import { startMosquitto, startMosquittos, type Mosquitto } from '../helpers/mosquitto.js';
import {
  connectClient,
  deadAddress,
  endClient,
  loadExampleDoc,
  startStage,
  type GatewayStage,
} from './fixture.js';

const run = promisify(execFile);

/** Publish a retained message straight at a broker (it is delivered to whoever subscribes later). */
async function retain(port: number, topic: string, message: string): Promise<void> {
  await run('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    topic,
    '-m',
    message,
    '-r',
    '-q',
    '1',
  ]);
}

/** mosquitto_sub through the gateway: the first message it gets on `topic` (exits 27 after 5 s without one). */
async function firstMessage(port: number, clientId: string, topic: string): Promise<string> {
  const { stdout } = await run('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-i',
    clientId,
    '-t',
    topic,
    '-q',
    '1',
    '-C',
    '1',
    '-W',
    '5',
  ]);
  return stdout.trim();
}

const UID = '100'; // shard 00: zone rz00

/** A "broker" that answers every CONNECT with CONNACK 3.1.1 0x03 "Server unavailable". */
async function unavailableBroker(): Promise<{ server: net.Server; address: string; connects: () => number }> {
  let connects = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      connects++;
      socket.end(Buffer.from([0x20, 0x02, 0x00, 0x03]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { server, address: `127.0.0.1:${port}`, connects: () => connects };
}

describe('mqtt brokers as upstreams: ejection and health checks', () => {
  let first: Mosquitto; // the uid's own broker (it starts there), killed below
  let second: Mosquitto;
  let holder: ZoneMapHolder;
  const stages: GatewayStage[] = [];
  const clients: MqttClient[] = [];

  before(async () => {
    const [a, b] = (await startMosquittos(2)) as [Mosquitto, Mosquitto];
    const dead = await deadAddress();
    const doc = loadExampleDoc();
    // The order a uid tries a zone's brokers in starts at fnv1a32(uid) % n: put `first` there.
    const listed = fnv1a32(UID) % 2 === 0 ? [a.address, b.address] : [b.address, a.address];
    for (const [name, zone] of Object.entries(doc.zones)) {
      zone.upstreams = { ...zone.upstreams, mqtt: name === 'rz00' ? listed : [dead] };
    }
    first = a;
    second = b;
    holder = new ZoneMapHolder(compileZoneMap(doc));
  });
  after(async () => {
    await Promise.all(clients.map(endClient));
    for (const s of stages) await s.close();
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it('a broker that refuses connects is ejected; the client and the next connect go to the healthy one', async () => {
    const gw = await startStage(holder, { upstream: { healthCheck: { enabled: false } } });
    stages.push(gw);
    process.kill(first.pid as number, 'SIGKILL');
    await first.stop();
    await retain(second.port, 'eject/x', 'at-second');

    const c = await connectClient(gw.port, { clientId: `${UID}-app`, protocolVersion: 5 });
    clients.push(c);
    assert.deepEqual(
      gw.server.describeConnections().map((x) => [x.uid, x.zone, x.upstream]),
      [[UID, 'rz00', second.address]],
    );
    const ejected = (): unknown[] =>
      gw.logs
        .filter((l) => l.msg === 'upstream ejected' && l.fields.protocol === 'mqtt')
        .map((l) => l.fields.upstream);
    assert.deepEqual(ejected(), [first.address]);

    // The next client of the same uid starts at the same broker: skipped now, not dialled again.
    assert.equal(await firstMessage(gw.port, `${UID}-cli`, 'eject/x'), 'at-second');
    assert.deepEqual(ejected(), [first.address], 'ejected once: the second connect skipped it');
  });

  it('active checks mark the dead broker down, and up again once it is back on its port', async () => {
    const changes: [string, boolean][] = [];
    const waiters: { address: string; healthy: boolean; resolve: () => void }[] = [];
    const change = (address: string, healthy: boolean): Promise<void> =>
      new Promise((resolve) => waiters.push({ address, healthy, resolve }));
    const down = change(first.address, false);
    // What the runtime's subscribers see: the stage publishes each verdict on the event bus.
    const events = new EventBus();
    events.healthChange.subscribe(({ protocol, upstream: address, healthy }) => {
      if (protocol !== 'mqtt') return;
      changes.push([address, healthy]);
      for (const w of waiters.splice(0)) {
        if (w.address === address && w.healthy === healthy) w.resolve();
        else waiters.push(w);
      }
    });
    const gw = await startStage(holder, {
      upstream: {
        // Passive ejection alone would keep it out for a minute: only the check brings it back.
        ejection: { ejectMs: 60_000 },
        healthCheck: { intervalMs: 100, timeoutMs: 2000, healthyThreshold: 1, unhealthyThreshold: 1 },
      },
      stage: { events },
    });
    stages.push(gw);
    await down;
    // Down by its check: the first connect goes straight to the other broker.
    assert.equal(await firstMessage(gw.port, `${UID}-down`, 'eject/x'), 'at-second');
    assert.equal(
      gw.logs.filter((l) => l.msg === 'upstream ejected' && l.fields.protocol === 'mqtt').length,
      0,
    );

    const up = change(first.address, true);
    first = await startMosquitto({ port: first.port });
    await retain(first.port, 'back/x', 'at-first');
    await up;
    // Back: the uid's own broker again.
    assert.equal(await firstMessage(gw.port, `${UID}-back`, 'back/x'), 'at-first');
    assert.deepEqual(
      changes.filter(([a]) => a === first.address),
      [
        [first.address, false],
        [first.address, true],
      ],
    );
  });

  it('a broker answering CONNACK "server unavailable" is ejected; the client gets the zone\'s other broker', async () => {
    const refusing = await unavailableBroker();
    try {
      const doc = loadExampleDoc();
      const listed =
        fnv1a32(UID) % 2 === 0 ? [refusing.address, second.address] : [second.address, refusing.address];
      for (const zone of Object.values(doc.zones)) zone.upstreams = { ...zone.upstreams, mqtt: listed };
      const gw = await startStage(new ZoneMapHolder(compileZoneMap(doc)), {
        upstream: { healthCheck: { enabled: false } },
      });
      stages.push(gw);
      // 3.1.1 through the gateway: it hears the answer of the broker that took it, not 0x03.
      assert.equal(await firstMessage(gw.port, `${UID}-connack`, 'eject/x'), 'at-second');
      assert.equal(refusing.connects(), 1);
      assert.deepEqual(
        gw.logs
          .filter((l) => l.msg === 'upstream ejected' && l.fields.protocol === 'mqtt')
          .map((l) => [l.fields.upstream, l.fields.reason]),
        [[refusing.address, 'CONNACK 0x3']],
      );
      // Ejected: the next connect of the same uid does not try it.
      assert.equal(await firstMessage(gw.port, `${UID}-connack2`, 'eject/x'), 'at-second');
      assert.equal(refusing.connects(), 1);
    } finally {
      refusing.server.close();
    }
  });
});
