/**
 * The MQTT edge: accepts client sockets (from its own listeners or from src/listeners), runs
 * one coarse clock and one sweep for every connection's timers, and re-decides every
 * connection when the zone map changes (moves paced by the MoveScheduler).
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Channel, EventBus, MqttSessionEndEvent } from '../core/events.js';
import type { Self } from '../router/index.js';
import { BrokerSet } from '../upstream/index.js';
import type { CompiledZoneMap, ZoneMapHolder } from '../zonemap/index.js';
import { DialGate } from './broker-dial.js';
import { MqttConnection, type ConnectionContext, type MqttLogger } from './connection.js';
import type { CertUidReader } from '../identity/index.js';
import { MoveBatch } from './move-batch.js';
import { MoveScheduler } from './move-scheduler.js';
import { resolveMqttConfig, type MqttConfigInput, type ResolvedMqttConfig } from './options.js';
import { MqttStats, type MqttMetricsSink } from './stats.js';
import type { DrainEnd, UpstreamLink } from './upstream-link.js';

export interface MqttServerOptions {
  readonly holder: ZoneMapHolder;
  readonly self: Self;
  /** The `mqtt` config section; validated once here. */
  readonly config?: MqttConfigInput;
  readonly logger?: MqttLogger;
  /** Periodic counters (packets, sessions per zone, drains), flushed by the sweep. */
  readonly metrics?: MqttMetricsSink;
  /** Connects, refusals, moves and session ends are published here (src/core/events.ts). */
  readonly events?: EventBus;
  /** The gateway's client-certificate uid rule (src/identity certUidReader), for `uid.source: cert`. */
  readonly certUid?: CertUidReader;
  readonly random?: () => number;
  /**
   * The brokers as upstream endpoints (passive ejection, active checks: createMqttStage builds
   * them from `upstream.ejection` and `upstream.healthCheck`). Without it no broker is ejected.
   */
  readonly brokers?: BrokerSet;
}

export interface MqttListenOptions {
  readonly port: number;
  readonly host?: string;
  /** mqtts: TLS options (cert, key, ca, requestCert, ...); plain mqtt when absent. */
  readonly tls?: tls.TlsOptions;
}

export interface MqttListener {
  readonly port: number;
  close(): Promise<void>;
}

/** One relayed connection as the admin view and tests see it (no client id, no credentials). */
export interface ConnectionView {
  readonly uid: string | null;
  readonly zone: string | null;
  readonly upstream: string | null;
  readonly protocol: string;
  /** Client -> broker QoS 1/2 packets not yet acknowledged by the broker. */
  readonly inflightOut: number;
  /** Broker -> client QoS 1/2 deliveries not yet acknowledged by the client. */
  readonly inflightIn: number;
  readonly subscriptions: number;
  /** Old sessions of this client still being drained or left after a move. */
  readonly oldSessions: number;
}

/** Connections re-decided per event-loop turn after a map change. */
const SCAN_SLICE = 5000;

const SILENT: MqttLogger = { info: () => undefined, warn: () => undefined };

export class MqttServer implements ConnectionContext {
  readonly config: ResolvedMqttConfig;
  readonly holder: ZoneMapHolder;
  readonly self: Self;
  readonly random: () => number;
  readonly stats = new MqttStats();
  readonly logger: MqttLogger;
  readonly sessionEnd: Channel<MqttSessionEndEvent> | undefined;
  readonly scheduler: MoveScheduler;
  readonly certUid: CertUidReader | undefined;
  readonly brokers: BrokerSet;
  readonly dialGate: DialGate;
  clock: number;
  private readonly metrics: MqttMetricsSink | undefined;
  private readonly events: EventBus | undefined;
  private readonly connections = new Set<MqttConnection>();
  private readonly servers = new Set<net.Server>();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  /** Set by drain(): every queued move tells its client to reconnect elsewhere. */
  draining = false;
  /** Map-change scan in progress (see onMapChange). */
  private scanning = false;
  private scan: Iterator<MqttConnection> | null = null;
  private scanMap: CompiledZoneMap | null = null;
  private scanQueued = 0;
  /** The moves due at once that this scan starts, switched together (move-batch.ts). */
  private scanBatch: MoveBatch<MqttConnection> | null = null;
  /** Sessions per zone, counted by the sweep (zones once seen stay, at 0). */
  private readonly sessionsByZone = new Map<string, number>();

  constructor(options: MqttServerOptions) {
    this.config = resolveMqttConfig(options.config);
    this.holder = options.holder;
    this.self = options.self;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? SILENT;
    const events = options.events;
    this.events = events;
    // A session's end is a fact on the bus; the log subscriber writes its access line.
    this.sessionEnd = events?.mqttSessionEnd;
    this.metrics = options.metrics;
    this.certUid = options.certUid;
    this.brokers = options.brokers ?? new BrokerSet({ consecutiveFailures: 1, ejectMs: 0 });
    this.brokers.sync(this.holder.current);
    this.dialGate = new DialGate(this.config.limits.brokerConnectsInFlight);
    this.scheduler = new MoveScheduler(this.config.migration.movesPerSecond, this.random);
    this.clock = performance.now();
    const t = this.config.timeouts;
    const shortest = Math.min(
      t.connectTimeoutMs,
      t.upstreamConnectTimeoutMs,
      t.upstreamResponseTimeoutMs,
      t.migrationTimeoutMs,
    );
    const sweepMs = Math.max(20, Math.min(250, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(this.sweep, sweepMs);
    this.sweepTimer.unref();
    this.holder.on('change', this.onMapChange);
  }

  /** Open client connections (any phase). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections queued for a move right now. */
  get movesQueued(): number {
    return this.scheduler.queued;
  }

  /** Where each relayed connection lives now (admin view, tests). No client ids: uids only. */
  describeConnections(): ConnectionView[] {
    const out: ConnectionView[] = [];
    for (const c of this.connections) {
      if (!c.isRelaying) continue;
      out.push({
        uid: c.identity?.uid ?? null,
        zone: c.zone,
        upstream: c.upstream,
        protocol: c.protocol,
        inflightOut: c.inflightOut,
        inflightIn: c.inflightIn,
        subscriptions: c.subscriptionCount,
        oldSessions: c.leaving?.length ?? 0,
      });
    }
    return out;
  }

  /** Hand over an accepted client socket (TLS already established for mqtts). */
  handleSocket(socket: Socket, protocol: 'mqtt' | 'mqtts' = 'mqtt'): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn = new MqttConnection(this, socket, protocol);
    this.connections.add(conn);
    this.stats.active = this.connections.size;
    this.metrics?.connections.inc({ protocol });
    this.metrics?.connectionsActive.inc({ protocol });
  }

  /** Listen on a port of its own (bench/mqtt.ts; the gateway runtime and the tests accept through createMqttStage). */
  async listen(options: MqttListenOptions): Promise<MqttListener> {
    const protocol = options.tls === undefined ? 'mqtt' : 'mqtts';
    const onSocket = (socket: Socket): void => this.handleSocket(socket, protocol);
    let server: net.Server;
    if (options.tls === undefined) {
      server = net.createServer(onSocket);
    } else {
      const tlsServer = tls.createServer({
        handshakeTimeout: this.config.timeouts.connectTimeoutMs,
        ...options.tls,
      });
      tlsServer.on('secureConnection', onSocket);
      tlsServer.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
      server = tlsServer;
    }
    server.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'mqtt listener error'));
    this.servers.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : options.port;
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          this.servers.delete(server);
          server.close(() => resolve());
        }),
    };
  }

  /** Stop listening, stop moving, close every connection (brokers see a drop). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.holder.off('change', this.onMapChange);
    clearInterval(this.sweepTimer);
    this.scheduler.close();
    for (const conn of [...this.connections]) conn.shutdown();
    await Promise.all([...this.servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.clear();
    if (this.metrics !== undefined) this.stats.flush(this.metrics);
  }

  /**
   * Take this gateway out of service for MQTT (LVS health check already failing): every client
   * is told to reconnect (MQTT 5 DISCONNECT 0x9C/0x9D, 3.1.1 closed) at a random time within
   * `windowMs`, paced by movesPerSecond, so the other gateways take them over gradually.
   */
  drain(windowMs: number): void {
    this.draining = true;
    for (const conn of this.connections) {
      if (conn.isRelaying) this.scheduler.enqueue(conn, Math.floor(this.random() * windowMs) + 1);
    }
  }

  /* ------------------------------------------------------------ ConnectionContext */

  atConnectionLimit(): boolean {
    return this.connections.size > this.config.limits.maxConnections;
  }

  brokerEjected(address: string, zone: string, why: string, ejectMs: number): void {
    const ev = this.events?.ejection;
    if (ev?.active === true) ev.publish({ protocol: 'mqtt', zone, upstream: address, ejectMs, reason: why });
  }

  connectionUp(conn: MqttConnection): void {
    this.stats.accepted++;
    const ev = this.events?.mqttConnect;
    if (ev?.active === true) {
      ev.publish({
        protocol: conn.protocol,
        zone: conn.zone ?? '',
        colour: conn.colour ?? '',
        reason: conn.reason,
        result: 0,
      });
    }
  }

  connectionClosed(conn: MqttConnection): void {
    if (!this.connections.delete(conn)) return;
    this.stats.active = this.connections.size;
    this.metrics?.connectionsActive.dec({ protocol: conn.protocol });
    const ev = this.events?.mqttConnect;
    if (conn.connackCode !== 0 && ev?.active === true) {
      ev.publish({
        protocol: conn.protocol,
        // A refusal after routing (no broker of the zone answered: 0x88) counts for that zone.
        zone: conn.zone ?? conn.targetZone,
        colour: conn.colour ?? '',
        reason: conn.reason,
        result: conn.connackCode,
      });
    }
  }

  moveStarted(conn: MqttConnection): void {
    this.stats.movesStarted++;
    this.metrics?.mqttMovesStarted.inc({ cause: conn.moveCause });
  }

  moveFinished(conn: MqttConnection, result: 'ok' | 'failed' | 'disconnected', reason: string): void {
    if (result === 'ok') this.stats.movesOk++;
    else if (result === 'failed') {
      this.stats.movesFailed++;
      this.stats.moveFailed(reason);
    } else this.stats.movesDisconnected++;
    // mode: why it moved (down | drain | rebalance | shutdown); result: ok | failed | disconnected.
    const ev = this.events?.mqttMove;
    if (ev?.active === true) ev.publish({ cause: conn.moveCause, result, reason });
  }

  drainEnded(_conn: MqttConnection, link: UpstreamLink, end: DrainEnd, durationMs: number): void {
    const result = end === 'empty' ? 'done' : 'abandoned';
    if (end === 'empty') this.stats.drainsDone++;
    else this.stats.drainAbandoned(end);
    const m = this.metrics;
    if (m === undefined) return;
    m.mqttDrains.inc({ zone: link.drainZone, result, reason: end });
    if (link.drained > 0) m.mqttDrainedMessages.inc({ zone: link.drainZone }, link.drained);
    m.mqttDrainSeconds.observe({ result }, durationMs / 1000);
  }

  /* ------------------------------------------------------------ internals */

  private readonly sweep = (): void => {
    const now = performance.now();
    this.clock = now;
    for (const conn of this.connections) conn.sweep(now);
    const m = this.metrics;
    if (m === undefined) return;
    this.stats.flush(m);
    const byZone = this.sessionsByZone;
    for (const z of byZone.keys()) byZone.set(z, 0);
    for (const conn of this.connections) {
      if (conn.isRelaying && conn.zone !== null) byZone.set(conn.zone, (byZone.get(conn.zone) ?? 0) + 1);
    }
    for (const [zone, n] of byZone) m.mqttSessions.set({ zone }, n);
  };

  /**
   * Re-decide every connection against a new map. Done in slices of SCAN_SLICE connections
   * with the event loop free in between, so 100,000 connections do not stall the relay; a
   * newer map restarts the scan (moves re-decide with the current map when they run anyway).
   */
  private readonly onMapChange = (next: CompiledZoneMap): void => {
    this.clock = performance.now();
    this.brokers.sync(next);
    this.scanMap = next;
    this.scanQueued = 0;
    this.scanBatch = new MoveBatch<MqttConnection>(releaseMember);
    this.scan = this.connections.values();
    if (!this.scanning) {
      this.scanning = true;
      this.scanStep();
    }
  };

  private readonly scanStep = (): void => {
    const map = this.scanMap;
    const it = this.scan;
    if (map === null || it === null || this.closed) {
      this.scanning = false;
      return;
    }
    for (let n = 0; n < SCAN_SLICE; n++) {
      const r = it.next();
      if (r.done === true) {
        this.scanning = false;
        this.scan = null;
        if (this.scanQueued > 0) {
          this.logger.info(
            { version: map.version, queued: this.scanQueued },
            'mqtt zone map change: moving connections',
          );
        }
        return;
      }
      const conn = r.value;
      const delay = conn.reconsider(map);
      if (delay >= 0) {
        const batch = this.scanBatch;
        if (delay === 0 && batch !== null && conn.batch === null && !conn.moving && !conn.moveQueued) {
          conn.joinBatch(batch);
        }
        this.scheduler.enqueue(conn, delay);
        this.scanQueued++;
      }
    }
    setImmediate(this.scanStep);
  };
}

/** A batch's last member is ready: the ones waiting for it switch. */
function releaseMember(conn: MqttConnection): void {
  conn.switchWaiting();
}
