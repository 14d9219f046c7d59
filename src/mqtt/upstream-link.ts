/**
 * One connection from the gateway to a broker, carrying one MQTT session of one client.
 * A client has one `current` link; during a move also a `preparing` one (the new broker) and,
 * after it, `draining` ones (old sessions still relayed until they have nothing left for the
 * client) that end as `leaving` (DISCONNECT sent, waiting for the broker to close).
 */
import net from 'node:net';
import type { ZonegateError } from '../core/errors.js';
import type { DialGate, Dialable } from './broker-dial.js';
import { MqttUpstreamUnavailableError } from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';

export type LinkState = 'connecting' | 'preparing' | 'current' | 'draining' | 'leaving' | 'closed';

/** How a drain of an old session ended (metric label `reason`). */
export type DrainEnd =
  'empty' | 'time-limit' | 'message-limit' | 'broker-lost' | 'client-closed' | 'shutdown';

export interface LinkOwner {
  /** The server's coarse clock (ms). */
  now(): number;
  internalError(err: unknown): void;
  /** Every frame of a received chunk has been handled. */
  onLinkChunk(link: UpstreamLink): void;
  onLinkFrame(link: UpstreamLink, frame: Buffer, headerLength: number): boolean;
  onLinkFailure(link: UpstreamLink, error: ZonegateError): void;
  onLinkClose(link: UpstreamLink): void;
  onLinkDrain(link: UpstreamLink): void;
}

/** "host:port" or "[v6]:port". */
export function parseAddress(address: string): { host: string; port: number } | null {
  const at = address.lastIndexOf(':');
  if (at <= 0) return null;
  let host = address.slice(0, at);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(address.slice(at + 1));
  return Number.isInteger(port) && port > 0 && port < 65_536 ? { host, port } : null;
}

/** Where a link stands with its DialGate. */
const WAITING = 0;
const DIALING = 1;
const DIALED = 2;

export class UpstreamLink implements FrameSink, Dialable {
  readonly zone: string;
  readonly address: string;
  readonly socket: net.Socket;
  readonly reader: FrameReader;
  state: LinkState = 'connecting';
  /** Coarse clock (server sweep) of the last byte from the broker. */
  lastRx: number;
  /** When the gateway's own PINGREQ went out, 0 when none is outstanding. */
  pingSentAt = 0;
  /** PINGRESPs owed for the gateway's own PINGREQs (swallowed, not relayed). */
  ownPings = 0;
  /** Connecting / preparing: give up at this time. Leaving: destroy at this time. 0: none. */
  deadline: number;
  /** Preparing: packet ids of the gateway's own SUBSCRIBE/UNSUBSCRIBE still unacknowledged. */
  injected: Set<number> | null = null;
  /** Preparing: the subscriptions version the broker has been brought to. */
  syncedVersion = -1;
  /** Preparing: topic filters the gateway subscribed at this broker (with their options' key). */
  synced: Map<string, string> | null = null;
  /** Broker -> client QoS 1/2 deliveries from this link the client has not completed. */
  unacked = 0;
  /** Frames from this link the gateway holds until the client's window has room. */
  held = 0;
  /** Draining: the zone the session lived in (metric label), when it started, messages relayed since, last PUBLISH or acknowledgement seen. */
  drainZone = '';
  /** A drain of this old session is under way (set while state is `draining`, and kept if it closes under it). */
  drainOpen = false;
  drainStartedAt = 0;
  drained = 0;
  lastActivity = 0;
  /** Draining: topic filters this session is subscribed to (unsubscribed before it is ended). */
  drainFilters: string[] | null = null;
  /** Draining: id of the gateway's UNSUBSCRIBE (one the client's packets never use here). */
  unsubscribeId = 0;
  /** Draining: when that UNSUBSCRIBE went out, 0 not yet. */
  unsubscribeSentAt = 0;
  /** Draining: the broker acknowledged that UNSUBSCRIBE: it adds nothing more to the session. */
  unsubscribed = false;
  /** Draining: the move this link was left by must be complete before the drain can end. */
  batch: { readonly unswitched: number } | null = null;
  private readonly owner: LinkOwner;
  private failed = false;
  private readonly gate: DialGate;
  private turn = WAITING;
  /** What was written before its turn came (the CONNECT, when it waits), sent once it connects. */
  private pending: Buffer[] | null = null;

  constructor(
    owner: LinkOwner,
    zone: string,
    address: string,
    maxPacketBytes: number,
    version: number,
    now: number,
    deadline: number,
    gate: DialGate,
  ) {
    this.owner = owner;
    this.zone = zone;
    this.address = address;
    this.lastRx = now;
    this.deadline = deadline;
    this.reader = new FrameReader(this, maxPacketBytes);
    this.reader.version = version;
    // Connected when the gate gives it a turn (at once unless its broker has
    // limits.brokerConnectsInFlight sessions opening already). The deadline runs from now: a
    // turn that does not come in time fails the link like a broker that does not answer.
    this.socket = new net.Socket();
    (this.socket as OwnedSocket)[kLink] = this;
    this.socket.on('data', linkData);
    this.socket.on('error', linkError);
    this.socket.on('close', linkClose);
    this.socket.on('drain', linkDrain);
    this.gate = gate;
    gate.request(this);
  }

  /** Dialable: the gate's turn. */
  dial(): boolean {
    if (this.state === 'closed' || this.socket.destroyed) return false;
    this.turn = DIALING;
    const target = parseAddress(this.address) ?? { host: this.address, port: 0 };
    this.socket.connect({ host: target.host, port: target.port, noDelay: true });
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      for (const b of pending) this.socket.write(b);
    }
    return true;
  }

  /** The broker answered (its first packet), or the connection ended: the gate's next may go. */
  private endTurn(): void {
    if (this.turn !== DIALING) return;
    this.turn = DIALED;
    this.gate.release(this.address);
  }

  onData(chunk: Buffer): void {
    this.lastRx = this.owner.now();
    this.pingSentAt = 0;
    try {
      this.reader.push(chunk);
      this.owner.onLinkChunk(this);
    } catch (err) {
      // Event handlers never throw: whatever the broker sent ends this client's connection only.
      this.owner.internalError(err);
    }
  }

  onError(err: Error): void {
    this.fail(new MqttUpstreamUnavailableError(`broker ${this.address}: ${err.message}`, err));
  }

  onClose(): void {
    this.state = 'closed';
    this.endTurn();
    this.owner.onLinkClose(this);
  }

  onDrain(): void {
    this.owner.onLinkDrain(this);
  }

  onFrame(frame: Buffer, headerLength: number): boolean {
    if (this.turn === DIALING) this.endTurn();
    return this.owner.onLinkFrame(this, frame, headerLength);
  }

  onFrameError(error: ZonegateError): void {
    this.fail(error);
  }

  private fail(error: ZonegateError): void {
    if (this.failed) return;
    this.failed = true;
    this.owner.onLinkFailure(this, error);
  }

  /** The gateway still writes acknowledgements to this broker. */
  get live(): boolean {
    return this.state === 'current' || this.state === 'preparing' || this.state === 'draining';
  }

  /** Not the client's session yet: never paused by the client's backpressure (its CONNACK, SUBACKs must be read). */
  get opening(): boolean {
    return this.state === 'connecting' || this.state === 'preparing';
  }

  write(buf: Buffer): boolean {
    if (this.turn === WAITING) {
      (this.pending ??= []).push(buf);
      return true;
    }
    return this.socket.write(buf);
  }

  destroy(): void {
    if (this.state !== 'closed') this.state = 'closed';
    this.socket.destroy();
  }
}

const kLink = Symbol('zonegate.mqttLink');
type OwnedSocket = net.Socket & { [kLink]?: UpstreamLink };

// Shared handlers: the link is found on its socket, no closures per connection.
function linkData(this: net.Socket, chunk: Buffer): void {
  (this as OwnedSocket)[kLink]?.onData(chunk);
}

function linkError(this: net.Socket, err: Error): void {
  (this as OwnedSocket)[kLink]?.onError(err);
}

function linkClose(this: net.Socket): void {
  (this as OwnedSocket)[kLink]?.onClose();
}

function linkDrain(this: net.Socket): void {
  (this as OwnedSocket)[kLink]?.onDrain();
}
