/**
 * A reconnect storm: every client of a gateway reconnecting at once, as after an LVS or network
 * loss. Two things keep it from costing each client a SYN retransmit (a second, then three):
 * the gateway's own listen backlog (`listeners[].backlog`, 4096 by default, as `ss` shows), and
 * the turns it gives out per broker (`mqtt.limits.brokerConnectsInFlight`): never more sessions
 * being opened at one broker than that, whatever the number of clients connecting, so the
 * broker's accept queue is never overrun. The broker here is a stand-in that counts the
 * sessions it has been asked to open and not answered yet, and answers them only when the
 * test says so; then 1,000 clients connect at once through to a real mosquitto. CONNECTs are
 * written over raw sockets (encoded by mqtt-packet), client ids 10x-… (zone rz00's shards).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import mqttPacket from 'mqtt-packet';
import { DialGate, type Dialable } from '../../src/mqtt/broker-dial.js';
import { compileZoneMap, ZoneMapHolder } from '../../src/zonemap/index.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { loadExampleDoc, startStage, waitFor, within, type GatewayStage } from './fixture.js';

const run = promisify(execFile);

/** A 3.1.1 CONNECT with a clean session, encoded by mqtt-packet. */
function connectFrame(clientId: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId,
  });
}

/** Connect through the gateway; resolves with the CONNACK's return code, or -1 if the connection ended first. */
function mqttConnect(port: number, clientId: string, sockets: net.Socket[]): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(connectFrame(clientId)));
    sockets.push(s);
    s.on('error', () => resolve(-1));
    s.on('close', () => resolve(-1));
    s.once('data', (d) => resolve(d[0] === 0x20 ? (d[3] as number) : -1));
  });
}

/**
 * A broker stand-in: records each connection whose CONNECT it has and has not answered, and
 * answers (CONNACK 0) only when `answer()` is called.
 */
class HeldBroker {
  readonly server = net.createServer((s) => this.#accept(s));
  /** Connections with a CONNECT, not answered yet. */
  readonly held: net.Socket[] = [];
  /** The most connections ever opened and not answered at once. */
  maxOpening = 0;
  #opening = 0;
  accepted = 0;

  #accept(s: net.Socket): void {
    this.accepted++;
    this.#opening++;
    this.maxOpening = Math.max(this.maxOpening, this.#opening);
    s.on('error', () => {});
    s.once('close', () => {
      const i = this.held.indexOf(s);
      if (i >= 0) this.held.splice(i, 1);
      if (!answered.has(s)) this.#opening--;
    });
    s.once('data', () => this.held.push(s));
  }

  /** CONNACK 0 to every connection held now. */
  answer(): number {
    const n = this.held.length;
    for (const s of this.held.splice(0)) {
      answered.add(s);
      this.#opening--;
      s.write(Buffer.from([0x20, 2, 0, 0]));
    }
    return n;
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}
const answered = new WeakSet<net.Socket>();

/** What `ss` says the listen backlog of the socket on `port` is (its Send-Q for a listener). */
async function listenBacklog(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Hltn', `sport = :${port}`]);
  const cols = stdout.trim().split(/\s+/);
  return Number(cols[2]);
}

describe('reconnect storm', () => {
  describe('turns per broker, against a broker that answers only when told', () => {
    let broker: HeldBroker;
    let gw: GatewayStage;
    const LIMIT = 8;
    const sockets: net.Socket[] = [];

    before(async () => {
      broker = new HeldBroker();
      const address = await broker.listen();
      const doc = loadExampleDoc();
      for (const z of Object.values(doc.zones)) z.upstreams = { ...z.upstreams, mqtt: [address] };
      gw = await startStage(new ZoneMapHolder(compileZoneMap(doc)), {
        config: { limits: { brokerConnectsInFlight: LIMIT } },
      });
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await gw?.close();
      broker?.server.close();
    });

    it('opens at most brokerConnectsInFlight sessions at the broker at once, and every client gets its CONNACK', async () => {
      const N = 100;
      const acks = Array.from({ length: N }, (_, i) =>
        mqttConnect(gw.port, `10${i % 10}-storm-${i}`, sockets),
      );
      // All N are at the gateway; LIMIT of them at the broker, the rest wait their turn.
      await waitFor('the first turns at the broker', () => broker.held.length === LIMIT);
      await waitFor('every client to reach the gateway', () => gw.server.connectionCount === N);
      const address = `127.0.0.1:${(broker.server.address() as AddressInfo).port}`;
      assert.deepEqual(gw.server.dialGate.state(address), { inFlight: LIMIT, waiting: N - LIMIT });
      assert.equal(broker.accepted, LIMIT, 'no more connections than turns');
      // Each answer ends those turns and lets as many waiting ones go.
      let answeredAll = 0;
      while (answeredAll < N) {
        await waitFor('the next turns at the broker', () => broker.held.length > 0);
        answeredAll += broker.answer();
      }
      const codes = await within('every CONNACK', Promise.all(acks));
      assert.deepEqual(new Set(codes), new Set([0]));
      assert.ok(broker.maxOpening <= LIMIT, `sessions opening at the broker at once: ${broker.maxOpening}`);
      assert.deepEqual(gw.server.dialGate.state(address), { inFlight: 0, waiting: 0 });
    });

    it('a client that leaves while waiting for its turn gives it up: nothing is left waiting or dialled for it', async () => {
      const address = `127.0.0.1:${(broker.server.address() as AddressInfo).port}`;
      const acceptedBefore = broker.accepted;
      const mine: net.Socket[] = [];
      const N = LIMIT + 20;
      const acks = Array.from({ length: N }, (_, i) => mqttConnect(gw.port, `10${i % 10}-leave-${i}`, mine));
      await waitFor('the turns taken and the line formed', () => {
        const s = gw.server.dialGate.state(address);
        return s.inFlight === LIMIT && s.waiting === N - LIMIT;
      });
      // The ones waiting in line give up (the first LIMIT are at the broker).
      const leaving = mine.slice(LIMIT);
      for (const s of leaving) s.destroy();
      await waitFor('the gateway to see them go', () => gw.server.connectionCount === sockets.length + LIMIT);
      broker.answer();
      const codes = await within('the answered ones', Promise.all(acks.slice(0, LIMIT)));
      assert.deepEqual(new Set(codes), new Set([0]));
      await waitFor('no turn in use and nobody in line', () => {
        const s = gw.server.dialGate.state(address);
        return s.inFlight === 0 && s.waiting === 0;
      });
      // The broker never heard of the clients that left while in line.
      assert.equal(broker.accepted - acceptedBefore, LIMIT);
      for (const s of mine) s.destroy();
    });
  });

  describe('a storm of 1,000 clients against mosquitto', () => {
    let mosquitto: Mosquitto;
    let gw: GatewayStage;
    const sockets: net.Socket[] = [];

    before(async () => {
      mosquitto = await startMosquitto({ extraConfig: ['max_connections -1'] });
      const doc = loadExampleDoc();
      for (const z of Object.values(doc.zones)) z.upstreams = { ...z.upstreams, mqtt: [mosquitto.address] };
      gw = await startStage(new ZoneMapHolder(compileZoneMap(doc)));
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await gw?.close();
      await mosquitto?.stop();
    });

    it('listens with the default backlog of 4096 (as ss shows it)', async () => {
      const somaxconn = Number((await run('cat', ['/proc/sys/net/core/somaxconn'])).stdout.trim());
      assert.equal(await listenBacklog(gw.port), Math.min(4096, somaxconn));
    });

    it('every client connecting at once gets its CONNACK, none refused or cut', async () => {
      const N = 1000;
      const codes = await within(
        'every CONNACK of the storm',
        Promise.all(Array.from({ length: N }, (_, i) => mqttConnect(gw.port, `10${i % 10}-m-${i}`, sockets))),
        30_000,
      );
      assert.equal(codes.filter((c) => c === 0).length, N);
      assert.deepEqual(gw.server.dialGate.state(mosquitto.address), { inFlight: 0, waiting: 0 });
    });
  });
});

describe('DialGate', () => {
  /** A dialable that records its turn; `gone` ones decline it. */
  function dialable(address: string, log: string[], name: string, gone = false): Dialable {
    return {
      address,
      dial: () => {
        if (gone) return false;
        log.push(name);
        return true;
      },
    };
  }

  it('gives turns in order, at most `limit` per broker, and brokers do not share them', () => {
    const g = new DialGate(2);
    const log: string[] = [];
    for (const n of ['a1', 'a2', 'a3', 'a4']) g.request(dialable('a', log, n));
    g.request(dialable('b', log, 'b1'));
    assert.deepEqual(log, ['a1', 'a2', 'b1']);
    assert.deepEqual(g.state('a'), { inFlight: 2, waiting: 2 });
    g.release('a');
    assert.deepEqual(log, ['a1', 'a2', 'b1', 'a3']);
    g.release('a');
    g.release('a');
    g.release('a');
    assert.deepEqual(log, ['a1', 'a2', 'b1', 'a3', 'a4']);
    assert.deepEqual(g.state('a'), { inFlight: 0, waiting: 0 });
    assert.deepEqual(g.state('b'), { inFlight: 1, waiting: 0 });
  });

  it('skips a waiting one that is gone when its turn comes, and a refused first turn is given back', () => {
    const g = new DialGate(1);
    const log: string[] = [];
    g.request(dialable('a', log, 'gone-at-once', true));
    assert.deepEqual(g.state('a'), { inFlight: 0, waiting: 0 }, 'a declined turn is not held');
    g.request(dialable('a', log, 'first'));
    g.request(dialable('a', log, 'gone', true));
    g.request(dialable('a', log, 'third'));
    g.release('a');
    assert.deepEqual(log, ['first', 'third']);
    assert.deepEqual(g.state('a'), { inFlight: 1, waiting: 0 });
  });
});
