/**
 * The example three-site five-center map with one real mosquitto per zone under test, and an
 * MqttServer routing by it. Zones without a broker point at a closed port.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  MqttServer,
  type MqttConfigInput,
  type MqttListener,
  type MqttServerOptions,
} from '../../src/mqtt/index.js';
import { compileZoneMap, parseDocument, validateZoneMap, ZoneMapHolder } from '../../src/zonemap/index.js';
import type { Status, ZoneMapDoc } from '../../src/zonemap/index.js';
import { freePort, startMosquittos, type Mosquitto, type MosquittoOptions } from '../helpers/mosquitto.js';

const EXAMPLE = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

export interface Fixture {
  readonly brokers: ReadonlyMap<string, Mosquitto>;
  readonly holder: ZoneMapHolder;
  readonly server: MqttServer;
  readonly port: number;
  /** Rewrite the map (a deep copy of the current doc) and swap it in, version + 1. */
  change(edit: (doc: Mutable<ZoneMapDoc>) => void): void;
  setZoneStatus(zone: string, status: Status): void;
  close(): Promise<void>;
}

export function loadExampleDoc(): Mutable<ZoneMapDoc> {
  const r = validateZoneMap(parseDocument(readFileSync(EXAMPLE, 'utf8'), EXAMPLE));
  if (!r.ok) throw new Error(`example map invalid: ${JSON.stringify(r.problems)}`);
  return structuredClone(r.doc) as Mutable<ZoneMapDoc>;
}

/** A port nothing listens on (bound then released). */
export async function deadAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

export interface FixtureOptions {
  readonly zones: readonly string[];
  readonly config?: MqttConfigInput;
  readonly idc?: string;
  readonly server?: Partial<MqttServerOptions>;
  readonly mosquitto?: MosquittoOptions;
}

export async function startFixture(options: FixtureOptions): Promise<Fixture> {
  const started = await startMosquittos(options.zones.length, options.mosquitto);
  const brokers = new Map<string, Mosquitto>();
  options.zones.forEach((z, i) => brokers.set(z, started[i] as Mosquitto));
  const dead = await deadAddress();
  let doc = loadExampleDoc();
  for (const [name, zone] of Object.entries(doc.zones)) {
    const b = brokers.get(name);
    zone.upstreams = { ...zone.upstreams, mqtt: [b === undefined ? dead : b.address] };
  }
  const holder = new ZoneMapHolder(compileZoneMap(doc));
  let server: MqttServer;
  let listener: MqttListener;
  try {
    server = new MqttServer({
      holder,
      self: { idc: options.idc ?? 'hz-1', crossIdc: 'direct' },
      config: options.config,
      ...options.server,
    });
    listener = await server.listen({ port: 0 });
  } catch (err) {
    await Promise.all(started.map((b) => b.stop()));
    throw err;
  }
  const change = (edit: (d: Mutable<ZoneMapDoc>) => void): void => {
    const next = structuredClone(doc);
    edit(next);
    next.version = doc.version + 1;
    const r = validateZoneMap(next);
    if (!r.ok) throw new Error(`edited map invalid: ${JSON.stringify(r.problems)}`);
    doc = next;
    holder.swap(compileZoneMap(r.doc));
  };
  return {
    brokers,
    holder,
    server,
    port: listener.port,
    change,
    setZoneStatus: (zone, status) =>
      change((d) => {
        (d.zones[zone] as { status?: Status }).status = status;
      }),
    close: async () => {
      await server.close();
      await listener.close();
      await Promise.all(started.map((b) => b.stop()));
    },
  };
}

/** Connect with the mqtt npm client; resolves on CONNACK, rejects on error or close. */
export function connectClient(port: number, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    const onErr = (err: Error): void => {
      c.end(true);
      reject(err);
    };
    c.once('connect', () => {
      c.off('error', onErr);
      resolve(c);
    });
    c.once('error', onErr);
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function endClient(c: MqttClient): Promise<void> {
  return new Promise((resolve) => c.end(true, {}, () => resolve()));
}

/** Raw socket helper: send bytes, collect everything until the server closes (or timeout). */
export function rawExchange(
  port: number,
  bytes: Buffer | readonly Buffer[],
  timeoutMs = 3000,
): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('connect', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b as Buffer);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
