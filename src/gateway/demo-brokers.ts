/**
 * In-process MQTT brokers for `zonegate demo`, one per RZone, so the demo needs nothing
 * installed. aedes: maintained (1.x, Node >= 20, tested on 22), the in-process broker MQTT.js's
 * own authors keep, and built on the mqtt-packet we already use. It speaks MQTT 3.1.1 only
 * (it refuses protocol level 5), so the demo's lines use 3.1.1 clients.
 *
 * To show where a client landed, each broker answers every PUBLISH on `ping` with one on
 * `pong` that names its zone (`rz03: hello`): a subscriber sees the zone change when the
 * gateway moves it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Aedes } from 'aedes';
import type { ZoneMapDoc } from '../zonemap/index.js';

export const DEMO_PING_TOPIC = 'ping';
export const DEMO_PONG_TOPIC = 'pong';

export interface DemoBrokers {
  /** The map with every RZone's `upstreams.mqtt` pointed at its broker here. */
  readonly doc: ZoneMapDoc;
  /** zone → "127.0.0.1:port" */
  readonly addresses: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

interface Running {
  readonly broker: Aedes;
  readonly server: Server;
  readonly sockets: Set<Socket>;
}

async function startOne(zone: string, host: string): Promise<{ running: Running; port: number }> {
  // Loaded here, not at the top: every other command (start, the drills) must not pay for it.
  const { Aedes: AedesBroker } = await import('aedes');
  const broker = await AedesBroker.createBroker();
  broker.on('publish', (packet, client) => {
    // Only clients' pings: the broker's own pongs (client null) must not answer themselves.
    if (client === null || packet.topic !== DEMO_PING_TOPIC) return;
    broker.publish(
      {
        cmd: 'publish',
        topic: DEMO_PONG_TOPIC,
        payload: Buffer.from(`${zone}: ${packet.payload.toString()}`),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => undefined,
    );
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client that resets mid-packet is its own problem; aedes reports it, we stay up.
    socket.on('error', () => undefined);
    broker.handle(socket);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
  return { running: { broker, server, sockets }, port };
}

async function stopOne(r: Running): Promise<void> {
  const closed = new Promise<void>((resolve) => r.server.close(() => resolve()));
  for (const s of r.sockets) s.destroy();
  await new Promise<void>((resolve) => r.broker.close(() => resolve()));
  await closed;
}

/** One broker per zone that has `upstreams.mqtt` in `doc`, each on an ephemeral port of `host`. */
export async function startDemoBrokers(doc: ZoneMapDoc, host = '127.0.0.1'): Promise<DemoBrokers> {
  const copy = structuredClone(doc) as Mutable<ZoneMapDoc>;
  const running: Running[] = [];
  const addresses = new Map<string, string>();
  try {
    for (const [name, zone] of Object.entries(copy.zones)) {
      if (zone.upstreams?.mqtt === undefined) continue;
      const { running: r, port } = await startOne(name, host);
      running.push(r);
      const addr = `${host}:${port}`;
      addresses.set(name, addr);
      zone.upstreams = { ...zone.upstreams, mqtt: [addr] };
    }
  } catch (err) {
    await Promise.all(running.map(stopOne));
    throw err;
  }
  return {
    doc: copy,
    addresses,
    async close() {
      await Promise.all(running.map(stopOne));
    },
  };
}
