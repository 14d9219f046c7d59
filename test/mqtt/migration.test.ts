/**
 * Transparent migration: a zone flip moves a subscribed client to the standby zone's broker
 * under its open TCP connection, and no QoS 1 message is lost in either direction.
 *
 * Messages towards the client are published to both brokers (the old one until it is left,
 * the new one from when the client is subscribed there); a break-before-make move would lose
 * the ones in between. Messages from the client are collected at both brokers by outside
 * subscribers; every one the gateway acknowledged must arrive at one of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { connectClient, endClient, sleep, startFixture, waitFor, within, type Fixture } from './fixture.js';

describe('mqtt transparent migration on a zone flip', () => {
  let f: Fixture;
  const clients: MqttClient[] = [];

  before(async () => {
    f = await startFixture({ zones: ['rz00', 'rz02'], config: { migration: { movesPerSecond: 1000 } } });
  });
  /** The moves a reset of the map starts (clients of earlier cases going home) are done. */
  const inflightOut = (uid: string): number =>
    f.server.describeConnections().find((c) => c.uid === uid)?.inflightOut ?? -1;
  const settled = (): Promise<void> =>
    waitFor('moves done', () => f.server.movesQueued === 0 && movesEnded() >= f.server.stats.movesStarted);
  const movesEnded = (): number =>
    f.server.stats.movesOk + f.server.stats.movesFailed + f.server.stats.movesDisconnected;
  after(async () => {
    await Promise.all(clients.map(endClient));
    await f.close();
  });

  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 4 ? '3.1.1' : '5'}: keeps its TCP connection, moves to rz02, loses no QoS 1 message`, async () => {
      f.setZoneStatus('rz00', 'up');
      await settled();
      const rz00 = f.brokers.get('rz00')?.port as number;
      const rz02 = f.brokers.get('rz02')?.port as number;
      const tag = `v${version}`;
      const client = await connectClient(f.port, {
        clientId: `100-${tag}`,
        protocolVersion: version,
        clean: true,
      });
      clients.push(client);
      let closed = false;
      client.on('close', () => (closed = true));
      // Each message is published at both brokers, tagged with where: o<i> at rz00, n<i> at rz02.
      const received = new Set<number>();
      const fromOld = new Set<number>();
      const fromNew = new Set<number>();
      let afterMove = false;
      client.on('message', (_t, m) => {
        const text = m.toString();
        if (text === 'after') {
          afterMove = true;
          return;
        }
        const i = Number(text.slice(1));
        received.add(i);
        (text[0] === 'o' ? fromOld : fromNew).add(i);
      });
      await client.subscribeAsync(`down/${tag}`, { qos: 1 });

      // Outside publishers straight at each broker, and outside subscribers for the client's own messages.
      const pubOld = await connectClient(rz00, { clientId: `pub-old-${tag}` });
      const pubNew = await connectClient(rz02, { clientId: `pub-new-${tag}` });
      const seenOld = await connectClient(rz00, { clientId: `seen-old-${tag}` });
      const seenNew = await connectClient(rz02, { clientId: `seen-new-${tag}` });
      clients.push(pubOld, pubNew, seenOld, seenNew);
      const arrived = new Set<number>();
      for (const s of [seenOld, seenNew]) {
        s.on('message', (_t, m) => arrived.add(Number(m.toString())));
        await s.subscribeAsync(`up/${tag}`, { qos: 1 });
      }

      const total = 300;
      const acked: number[] = [];
      const flipAt = 100;
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < total; i++) {
        pending.push(pubOld.publishAsync(`down/${tag}`, `o${i}`, { qos: 1 }));
        pending.push(pubNew.publishAsync(`down/${tag}`, `n${i}`, { qos: 1 }));
        pending.push(client.publishAsync(`up/${tag}`, String(i), { qos: 1 }).then(() => acked.push(i)));
        if (i === flipAt) f.setZoneStatus('rz00', 'down');
        await sleep(3);
      }
      await Promise.all(pending);
      await waitFor('every message at the client', () => received.size === total, 10_000).catch(
        () => undefined,
      );
      const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !received.has(i));
      assert.deepEqual(missing, [], `client missed ${missing.length} messages`);
      // What the client saw of the flip: before it, everything from rz00 and nothing from rz02
      // (not subscribed there); after it, messages that only rz02 had.
      for (let i = 0; i < flipAt; i++) assert.ok(fromOld.has(i), `o${i} before the flip`);
      assert.equal([...fromNew].filter((i) => i < flipAt).length, 0, 'nothing from rz02 before the flip');
      assert.ok(fromNew.size > 0, 'messages published only at rz02 arrived');
      await waitFor('every acked message at a broker', () => acked.every((i) => arrived.has(i))).catch(
        () => undefined,
      );
      assert.equal(acked.length, total);
      assert.deepEqual(
        acked.filter((i) => !arrived.has(i)),
        [],
      );
      assert.equal(closed, false, 'the client connection must stay open');
      assert.ok(client.connected);
      // It now lives at rz02: a message published only there reaches it.
      assert.equal(
        f.server
          .describeConnections()
          .find((c) => c.uid === '100' && c.protocol === 'mqtt' && c.upstream !== null)?.zone,
        'rz02',
      );
      await pubNew.publishAsync(`down/${tag}`, 'after', { qos: 1 });
      await waitFor('message via rz02 after the move', () => afterMove).catch(() => undefined);
      assert.ok(afterMove, 'message published at rz02 after the move arrives');
      assert.ok((f.server.stats.snapshot().movesOk as number) >= 1);
    });
  }

  it('mosquitto_sub (MQTT 5) through the gateway keeps receiving across the flip without reconnecting', async () => {
    f.setZoneStatus('rz00', 'up');
    f.setZoneStatus('rz02', 'up');
    await settled();
    const accepted = f.server.stats.accepted;
    const sub = spawn('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(f.port),
      '-V',
      'mqttv5',
      '-i',
      '103-cli',
      '-t',
      'cli/#',
      '-q',
      '1',
      '-C',
      '2',
      '-W',
      '10',
    ]);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => sub.once('exit', (code) => r(code)));
    try {
      await waitFor('mosquitto_sub relayed', () =>
        f.server.describeConnections().some((c) => c.uid === '103' && c.subscriptions === 1),
      );
      const atOld = await connectClient(f.brokers.get('rz00')?.port as number, { clientId: 'pub-cli-old' });
      const atNew = await connectClient(f.brokers.get('rz02')?.port as number, { clientId: 'pub-cli-new' });
      clients.push(atOld, atNew);
      await atOld.publishAsync('cli/1', 'before', { qos: 1 });
      await waitFor('first line', () => out.includes('before'));
      f.setZoneStatus('rz00', 'down');
      await waitFor(
        'moved',
        () => f.server.describeConnections().find((c) => c.uid === '103')?.zone === 'rz02',
      );
      await atNew.publishAsync('cli/2', 'after', { qos: 1 });
      assert.equal(await within('mosquitto_sub to exit', exited, 15_000), 0);
      assert.deepEqual(out.trim().split('\n'), ['before', 'after']);
      assert.equal(f.server.stats.accepted, accepted + 1, 'one CONNECT, no reconnect');
    } finally {
      if (sub.exitCode === null) sub.kill('SIGKILL');
    }
  });

  it('unacknowledged QoS 1 publishes of a client whose broker hangs are resent to the new broker', async () => {
    f.setZoneStatus('rz00', 'up');
    f.setZoneStatus('rz02', 'up');
    const old = f.brokers.get('rz00');
    const rz02 = f.brokers.get('rz02')?.port as number;
    const client = await connectClient(f.port, { clientId: '101-hang', protocolVersion: 4 });
    clients.push(client);
    const seen = await connectClient(rz02, { clientId: 'seen-hang' });
    clients.push(seen);
    const arrived = new Set<string>();
    seen.on('message', (_t, m) => arrived.add(m.toString()));
    await seen.subscribeAsync('hang/#', { qos: 1 });
    process.kill(old?.pid as number, 'SIGSTOP');
    try {
      const acks = Array.from({ length: 20 }, (_, i) => client.publishAsync('hang/x', String(i), { qos: 1 }));
      await waitFor('20 unacknowledged at the hung broker', () => inflightOut('101') === 20);
      f.setZoneStatus('rz00', 'down');
      await within('every publish acknowledged after the move', Promise.all(acks));
      await waitFor('all at rz02', () => arrived.size === 20).catch(() => undefined);
      assert.equal(arrived.size, 20);
    } finally {
      process.kill(old?.pid as number, 'SIGCONT');
    }
  });

  it('QoS 2 both ways through the gateway, and QoS 2 publishes in flight at a hung broker complete after the move', async () => {
    f.setZoneStatus('rz00', 'up');
    f.setZoneStatus('rz02', 'up');
    await settled();
    const old = f.brokers.get('rz00');
    const rz02 = f.brokers.get('rz02')?.port as number;
    const client = await connectClient(f.port, { clientId: '102-qos2', protocolVersion: 5 });
    clients.push(client);
    const down: string[] = [];
    client.on('message', (_t, m) => down.push(m.toString()));
    await client.subscribeAsync('q2/down', { qos: 2 });
    const pub = await connectClient(old?.port as number, { clientId: 'pub-q2' });
    clients.push(pub);
    for (let i = 0; i < 5; i++) await pub.publishAsync('q2/down', `d${i}`, { qos: 2 });
    // A last one marks the end: anything duplicated would have come before it.
    await pub.publishAsync('q2/down', 'end', { qos: 2 });
    await waitFor('five QoS 2 deliveries and the end', () => down.includes('end'));
    assert.deepEqual(down, ['d0', 'd1', 'd2', 'd3', 'd4', 'end']);

    const seen = await connectClient(rz02, { clientId: 'seen-q2' });
    clients.push(seen);
    const arrived: string[] = [];
    seen.on('message', (_t, m) => arrived.push(m.toString()));
    await seen.subscribeAsync('q2/up', { qos: 2 });
    process.kill(old?.pid as number, 'SIGSTOP');
    try {
      const acks = Array.from({ length: 10 }, (_, i) => client.publishAsync('q2/up', `u${i}`, { qos: 2 }));
      await waitFor('10 unacknowledged at the hung broker', () => inflightOut('102') === 10);
      f.setZoneStatus('rz00', 'down');
      await within('every QoS 2 publish completed after the move', Promise.all(acks));
      // A QoS 2 marker through the moved session: a duplicate would have come before it.
      await client.publishAsync('q2/up', 'end', { qos: 2 });
      await waitFor('ten at rz02 and the end', () => arrived.includes('end'));
      arrived.splice(arrived.indexOf('end'), 1);
      assert.deepEqual([...arrived].sort(), Array.from({ length: 10 }, (_, i) => `u${i}`).sort());
    } finally {
      process.kill(old?.pid as number, 'SIGCONT');
    }
  });

  it('a persistent 3.1.1 session is opened with Clean Session 0 at the new broker', async () => {
    f.setZoneStatus('rz00', 'up');
    f.setZoneStatus('rz02', 'up');
    await settled();
    const rz02 = f.brokers.get('rz02')?.port as number;
    const client = await connectClient(f.port, { clientId: '105-persist', protocolVersion: 4, clean: false });
    clients.push(client);
    await client.subscribeAsync('keep/#', { qos: 1 });
    f.setZoneStatus('rz00', 'down');
    const at = (): string | null | undefined =>
      f.server.describeConnections().find((c) => c.uid === '105')?.upstream;
    await waitFor('move to rz02', () => at() === f.brokers.get('rz02')?.address);
    // Leave, publish at rz02 while away, come back directly to rz02 with clean=false: the
    // session the gateway opened there must have been persistent (queued message delivered).
    await endClient(client);
    const pub = await connectClient(rz02, { clientId: 'pub-persist' });
    clients.push(pub);
    await pub.publishAsync('keep/1', 'queued', { qos: 1 });
    const direct = mqtt.connect({
      host: '127.0.0.1',
      port: rz02,
      clientId: '105-persist',
      clean: false,
      reconnectPeriod: 0,
    });
    clients.push(direct);
    const got = await within(
      'the queued message',
      new Promise<string>((resolve) => direct.once('message', (_t, m) => resolve(m.toString()))),
    );
    assert.equal(got, 'queued');
  });

  it('an MQTT 5 persistent session is ended at the broker it leaves (no stale session there)', async () => {
    f.setZoneStatus('rz00', 'up');
    f.setZoneStatus('rz02', 'up');
    await settled();
    const opts = {
      clientId: '106-v5persist',
      protocolVersion: 5 as const,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const client = await connectClient(f.port, opts);
    clients.push(client);
    await client.subscribeAsync('p5/#', { qos: 1 });
    f.setZoneStatus('rz00', 'down');
    await waitFor(
      'moved',
      () => f.server.describeConnections().find((c) => c.uid === '106')?.zone === 'rz02',
    );
    // Its old session was drained empty (nothing queued for it there), then ended.
    await waitFor(
      'old session drained and left',
      () => f.server.describeConnections().find((c) => c.uid === '106')?.oldSessions === 0,
    );
    const direct = mqtt.connect({
      host: '127.0.0.1',
      port: f.brokers.get('rz00')?.port,
      reconnectPeriod: 0,
      ...opts,
    });
    clients.push(direct);
    const present = await within(
      'the CONNACK at rz00',
      new Promise<boolean>((resolve, reject) => {
        direct.once('connect', (ack: { sessionPresent: boolean }) => resolve(ack.sessionPresent));
        direct.once('error', reject);
      }),
    );
    assert.equal(present, false);
  });
});
