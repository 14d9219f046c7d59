/**
 * Raw MQTT 3.1.1 packets and a minimal client for the MQTT benchmark (bench/mqtt.ts): the
 * orchestrator and its load-generator processes share them. Raw bytes rather than the mqtt
 * package, so the generator costs as little CPU per connect and per message as it can.
 */
import net from 'node:net';
import tls from 'node:tls';
import { FrameReader, type FrameSink } from '../src/mqtt/frame-reader.js';
import { ackId, publishIdOffset, topicEnd } from '../src/mqtt/publish.js';
import { frameOf } from '../test/mqtt/raw-client.js';

function str(s: string): Buffer {
  const b = Buffer.from(s);
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length);
  return Buffer.concat([l, b]);
}

/** MQTT 3.1.1 CONNECT, clean session, no keepalive (idle connections must stay idle). */
export function connectPacket(clientId: string, keepalive = 0): Buffer {
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(keepalive);
  return frameOf(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02]), ka, str(clientId)]));
}

export function subscribePacket(topic: string, qos: number, id = 1): Buffer {
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return frameOf(0x82, Buffer.concat([pid, str(topic), Buffer.from([qos])]));
}

export function publishPacket(topic: string, payload: Buffer, qos: number, id: number): Buffer {
  if (qos === 0) return frameOf(0x30, Buffer.concat([str(topic), payload]));
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return frameOf(0x30 | (qos << 1), Buffer.concat([str(topic), pid, payload]));
}

function puback(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

export type Secure = tls.ConnectionOptions | null;

export class Client implements FrameSink {
  readonly socket: net.Socket;
  private readonly reader = new FrameReader(this, 1 << 20);
  connack: Promise<void>;
  private connackResolve!: () => void;
  private connackReject!: (e: Error) => void;
  suback: Promise<void>;
  private subackResolve!: () => void;
  received = 0;
  acked = 0;
  /** performance.timeOrigin + performance.now() of the last PUBLISH received (comparable across processes). */
  lastAt = 0;
  onAck: (() => void) | null = null;
  onPublish: ((payload: Buffer) => void) | null = null;
  closed = false;
  readonly gone: Promise<void>;
  /** Acknowledge each QoS 1 delivery this long after it arrived (a slow phone); 0: at once. */
  ackDelayMs = 0;

  constructor(
    port: number,
    readonly clientId: string,
    secure: Secure = null,
  ) {
    this.connack = new Promise((res, rej) => {
      this.connackResolve = res;
      this.connackReject = rej;
    });
    this.suback = new Promise((res) => (this.subackResolve = res));
    this.connack.catch(() => undefined);
    const c = connectPacket(clientId);
    this.socket =
      secure === null
        ? net.connect({ host: '127.0.0.1', port, noDelay: true }, () => this.socket.write(c))
        : tls.connect({ host: '127.0.0.1', port, ...secure }, () => this.socket.write(c));
    this.socket.on('data', (d: Buffer) => this.reader.push(d));
    this.socket.on('error', (e) => this.connackReject(e));
    this.gone = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.closed = true;
        this.connackReject(new Error(`${clientId}: closed`));
        resolve();
      }),
    );
  }

  onFrame(f: Buffer, hl: number): boolean {
    const type = (f[0] as number) >> 4;
    if (type === 2) {
      if (f[3] === 0) this.connackResolve();
      else this.connackReject(new Error(`CONNACK ${String(f[3])}`));
    } else if (type === 9) {
      this.subackResolve();
    } else if (type === 3) {
      this.received++;
      this.lastAt = performance.timeOrigin + performance.now();
      const qos = ((f[0] as number) >> 1) & 3;
      const te = topicEnd(f, hl);
      if (qos > 0) {
        const at = publishIdOffset(f, te);
        const ack = puback(f.readUInt16BE(at));
        if (this.ackDelayMs > 0) setTimeout(writeIfOpen, this.ackDelayMs, this.socket, ack);
        else this.socket.write(ack);
        this.onPublish?.(f.subarray(at + 2));
      } else {
        this.onPublish?.(f.subarray(te));
      }
    } else if (type === 4) {
      this.acked++;
      void ackId(f, hl);
      this.onAck?.();
    }
    return true;
  }

  onFrameError(): void {
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}

function writeIfOpen(socket: net.Socket, b: Buffer): void {
  if (!socket.destroyed) socket.write(b);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A wall clock shared by every process of the run (sub-millisecond). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
