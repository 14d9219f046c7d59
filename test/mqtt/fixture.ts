/**
 * The example three-site five-center map with one real mosquitto per zone under test, and the
 * MQTT stage of the gateway built the way `zonegate start` builds it: a config checked by
 * validateConfig, createMqttStage, and its listeners (src/listeners) accepting the clients.
 * Zones without a broker point at a closed port.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { validateConfig } from '../../src/core/config.js';
import { EventBus } from '../../src/core/events.js';
import { subscribeLog } from '../../src/core/logger.js';
import {
  createMqttStage,
  type MqttConfigInput,
  type MqttServer,
  type MqttStage,
  type MqttStageOptions,
} from '../../src/mqtt/index.js';
import { compileZoneMap, parseDocument, validateZoneMap, ZoneMapHolder } from '../../src/zonemap/index.js';
import type { Status, ZoneMapDoc } from '../../src/zonemap/index.js';
import { freePort, startMosquittos, type Mosquitto, type MosquittoOptions } from '../helpers/mosquitto.js';

const EXAMPLE = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** One MQTT stage on real listeners from a config, sharing a zone map holder. */
export interface GatewayStage {
  readonly stage: MqttStage;
  readonly server: MqttServer;
  /** Port of the first listener. */
  readonly port: number;
  /** Bound port of a listener by name. */
  portOf(listener: string): number;
  /** What the stage logged (when the test gave it no log of its own). */
  readonly logs: readonly LogLine[];
  close(): Promise<void>;
}

export interface LogLine {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export interface Fixture extends GatewayStage {
  readonly brokers: ReadonlyMap<string, Mosquitto>;
  readonly holder: ZoneMapHolder;
  /** Rewrite the map (a deep copy of the current doc) and swap it in, version + 1. */
  change(edit: (doc: Mutable<ZoneMapDoc>) => void): void;
  setZoneStatus(zone: string, status: Status): void;
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

export interface StageOptions {
  /** The `mqtt` section, and `uid` for `identity.mqtt`, as a config file has them. */
  readonly config?: MqttConfigInput;
  readonly idc?: string;
  /** Listener configs; default one plain `mqtt` listener on 127.0.0.1, port 0. */
  readonly listeners?: readonly Record<string, unknown>[];
  /** More of the `identity` section (e.g. certUid). */
  readonly identity?: Record<string, unknown>;
  /** The `upstream` section; default: active health checks off (a test turns them on). */
  readonly upstream?: Record<string, unknown>;
  /** Observers the runtime hands the stage. */
  readonly stage?: Pick<MqttStageOptions, 'metrics' | 'events'>;
}

const PLAIN_LISTENER = { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 };

/** Build and start the MQTT stage from a config, as the gateway runtime does. */
export async function startStage(holder: ZoneMapHolder, o: StageOptions = {}): Promise<GatewayStage> {
  const { uid, ...section } = o.config ?? {};
  const config = validateConfig({
    idc: o.idc ?? 'hz-1',
    listeners: o.listeners ?? [PLAIN_LISTENER],
    // Not read: the holder is handed to the stage (the runtime builds it from this source).
    zonemap: { file: EXAMPLE },
    identity: { ...o.identity, mqtt: uid ?? {} },
    upstream: o.upstream ?? { healthCheck: { enabled: false } },
    mqtt: section,
  });
  const logs: LogLine[] = [];
  // Bounded: a fuzz run logs a refusal per case.
  const keep = (line: LogLine): void => {
    if (logs.length < 10_000) logs.push(line);
  };
  // What the runtime does: a pino logger for the stage's own lines, and the log subscriber on
  // the event bus for what the stage publishes (ejections, health changes, ...).
  const logger = pino(
    { level: 'info', base: undefined, timestamp: false },
    {
      write(line: string): void {
        const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg: string };
        keep({ level: level >= 40 ? 'warn' : 'info', msg, fields });
      },
    },
  );
  const events = o.stage?.events ?? new EventBus();
  const offLog = subscribeLog(events, logger, null);
  const stage = createMqttStage({ config, holder, logger, ...o.stage, events });
  const close = async (): Promise<void> => {
    offLog();
    await stage.close();
  };
  try {
    await stage.start();
  } catch (err) {
    await close();
    throw err;
  }
  const portOf = (name: string): number => {
    const port = stage.listeners.find((l) => l.name === name)?.address()?.port;
    if (port === undefined) throw new Error(`no bound listener named ${name}`);
    return port;
  };
  return {
    stage,
    server: stage.server,
    port: portOf(stage.listeners[0]?.name ?? ''),
    portOf,
    logs,
    close,
  };
}

export interface FixtureOptions extends StageOptions {
  readonly zones: readonly string[];
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
  let gw: GatewayStage;
  try {
    gw = await startStage(holder, options);
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
    ...gw,
    brokers,
    holder,
    change,
    setZoneStatus: (zone, status) =>
      change((d) => {
        (d.zones[zone] as { status?: Status }).status = status;
      }),
    close: async () => {
      await gw.close();
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

/** The shared waiting helpers, so the MQTT suites import one module. */
export { sleep, waitFor, within } from '../helpers/wait.js';
