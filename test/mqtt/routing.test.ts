/**
 * A client lands on its uid's zone broker: checked by publishing straight to that broker (and
 * to the other one, which must not reach it), with mosquitto_pub / mosquitto_sub as outside
 * clients and the mqtt npm client through the gateway.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, startFixture, startStage, waitFor, type Fixture } from './fixture.js';

const run = promisify(execFile);

function mosquittoPub(port: number, topic: string, message: string, qos = 1): Promise<unknown> {
  return run(
    'mosquitto_pub',
    ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-m', message, '-q', String(qos)],
    {
      timeout: 5000,
    },
  );
}

describe('mqtt routing by uid', () => {
  let f: Fixture;
  const clients: MqttClient[] = [];

  before(async () => {
    f = await startFixture({ zones: ['rz00', 'rz01', 'rz02'] });
  });
  after(async () => {
    await Promise.all(clients.map(endClient));
    await f.close();
  });

  it('a client whose uid is in shard 00-09 lands on rz00, in 20-29 on rz02 (3.1.1 and 5)', async () => {
    const a = await connectClient(f.port, { clientId: '100-phone', protocolVersion: 4 });
    const b = await connectClient(f.port, { clientId: '120-phone', protocolVersion: 5 });
    clients.push(a, b);
    const got: string[] = [];
    a.on('message', (t, m) => got.push(`a ${t} ${m.toString()}`));
    b.on('message', (t, m) => got.push(`b ${t} ${m.toString()}`));
    await a.subscribeAsync('u/#', { qos: 1 });
    await b.subscribeAsync('u/#', { qos: 1 });
    const rz00 = f.brokers.get('rz00')?.port as number;
    const rz02 = f.brokers.get('rz02')?.port as number;
    await mosquittoPub(rz00, 'u/x', 'to-rz00');
    await mosquittoPub(rz02, 'u/x', 'to-rz02');
    // An end mark at each broker: each client gets only its own broker's, after what came before.
    await mosquittoPub(rz00, 'u/x', 'end-rz00');
    await mosquittoPub(rz02, 'u/x', 'end-rz02');
    await waitFor('both end marks', () => got.includes('a u/x end-rz00') && got.includes('b u/x end-rz02'));
    assert.deepEqual(got.sort(), ['a u/x end-rz00', 'a u/x to-rz00', 'b u/x end-rz02', 'b u/x to-rz02']);
  });

  it('what a client publishes through the gateway reaches its zone broker (mosquitto_sub there)', async () => {
    const rz02 = f.brokers.get('rz02')?.port as number;
    const sub = spawn('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(rz02),
      '-t',
      'up/#',
      '-C',
      '1',
      '-v',
      '-W',
      '5',
    ]);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => sub.once('exit', (code) => r(code)));
    try {
      // Retained: mosquitto_sub gets it whether it subscribed before or after it arrived.
      const c = await connectClient(f.port, { clientId: '121-car', protocolVersion: 4 });
      clients.push(c);
      await c.publishAsync('up/121', 'hello', { qos: 1, retain: true });
      assert.equal(await exited, 0);
      assert.equal(out.trim(), 'up/121 hello');
      await c.publishAsync('up/121', '', { qos: 1, retain: true }); // cleared
    } finally {
      if (sub.exitCode === null) sub.kill('SIGKILL');
    }
  });

  it('anonymous: "route" sends a client without uid to a weighted live RZone of its IDC, and keeps it there', async () => {
    const gw = await startStage(f.holder, { config: { uid: { anonymous: 'route' } } });
    const anon = gw.server;
    try {
      const c = await connectClient(gw.port, { clientId: 'phone-without-uid', protocolVersion: 4 });
      clients.push(c);
      const where = (): string | null | undefined => anon.describeConnections()[0]?.zone;
      const zone = where();
      assert.ok(zone === 'rz00' || zone === 'rz01', String(zone));
      f.setZoneStatus('rz02', 'drain'); // unrelated change: no move
      // The change is re-decided for every connection at once (no connection queued a move).
      assert.equal(anon.movesQueued, 0);
      assert.equal(where(), zone);
      assert.equal(anon.stats.movesOk + anon.stats.movesDisconnected, 0);
      f.setZoneStatus('rz02', 'up');
    } finally {
      await gw.close();
    }
  });

  it('counts the connections it relays', () => {
    const s = f.server.stats.snapshot();
    assert.ok((s.accepted as number) >= 3);
  });
});
