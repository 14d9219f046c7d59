/**
 * A simulated mobile MQTT user: connects through a gateway with its uid in the client id,
 * subscribes QoS 1 to its own topic and publishes numbered QoS 1 messages to it. Every
 * message the broker acknowledged must come back at least once: a missing one is lost, a
 * second copy is a duplicate. Built on mqtt-packet (the gateway's own codec dependency) so
 * the lab needs no client library at run time.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export interface MqttUserStats {
  readonly uid: string;
  /** Messages the broker acknowledged (PUBACK). */
  readonly acked: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Times the connection dropped (a transparent move keeps it: 0). */
  readonly disconnects: number;
}

export class MqttUser {
  readonly uid: string;
  private readonly port: number;
  private socket: net.Socket | null = null;
  private nextId = 1;
  private seq = 0;
  /** messageId → seq of a PUBLISH waiting for its PUBACK. */
  private readonly pending = new Map<number, number>();
  private readonly acked = new Set<number>();
  private readonly received = new Map<number, number>();
  private disconnects = 0;
  private ready = false;
  private stopped = false;
  private readyWaiters: (() => void)[] = [];

  constructor(uid: string, gatewayPort: number) {
    this.uid = uid;
    this.port = gatewayPort;
  }

  /** Resolves when connected and subscribed. */
  start(timeoutMs = 10_000): Promise<void> {
    this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`MQTT user ${this.uid}: not subscribed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const sock = net.connect({ host: '127.0.0.1', port: this.port });
    this.socket = sock;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => this.onPacket(p));
    parser.on('error', () => sock.destroy());
    sock.on('data', (d: Buffer) => parser.parse(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.socket !== sock) return;
      this.socket = null;
      this.ready = false;
      if (this.stopped) return;
      this.disconnects++;
      setTimeout(() => this.connect(), 100);
    });
    sock.on('connect', () => {
      this.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: `${this.uid}-lab`,
        keepalive: 60,
      });
    });
  }

  private send(p: Packet): void {
    const s = this.socket;
    if (s !== null && !s.destroyed) s.write(mqttPacket.generate(p));
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'connack':
        if (p.returnCode !== 0) {
          this.socket?.destroy();
          return;
        }
        this.send({
          cmd: 'subscribe',
          messageId: this.id(),
          subscriptions: [{ topic: `lab/${this.uid}`, qos: 1 }],
        });
        return;
      case 'suback':
        this.ready = true;
        for (const w of this.readyWaiters.splice(0)) w();
        // Unacknowledged messages from a dropped connection go again (QoS 1: at least once).
        for (const [id, seq] of this.pending) this.publishFrame(id, seq, true);
        return;
      case 'puback': {
        const seq = this.pending.get(p.messageId ?? -1);
        if (seq === undefined) return;
        this.pending.delete(p.messageId ?? -1);
        this.acked.add(seq);
        return;
      }
      case 'publish': {
        const seq = Number((JSON.parse(p.payload.toString()) as { seq?: unknown }).seq);
        this.received.set(seq, (this.received.get(seq) ?? 0) + 1);
        if (p.qos === 1 && p.messageId !== undefined) this.send({ cmd: 'puback', messageId: p.messageId });
        return;
      }
      default:
        return;
    }
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
    return id;
  }

  private publishFrame(messageId: number, seq: number, dup: boolean): void {
    this.send({
      cmd: 'publish',
      topic: `lab/${this.uid}`,
      payload: Buffer.from(JSON.stringify({ seq })),
      qos: 1,
      messageId,
      dup,
      retain: false,
    });
  }

  /** Publishes the next numbered message (skipped while reconnecting, or with too many in flight). */
  publish(): void {
    if (!this.ready || this.pending.size >= 32) return;
    const seq = ++this.seq;
    const id = this.id();
    this.pending.set(id, seq);
    this.publishFrame(id, seq, false);
  }

  /** Acknowledged messages not received yet. */
  missing(): number {
    let n = 0;
    for (const s of this.acked) if (!this.received.has(s)) n++;
    return n;
  }

  stats(): MqttUserStats {
    let dup = 0;
    for (const c of this.received.values()) if (c > 1) dup += c - 1;
    return {
      uid: this.uid,
      acked: this.acked.size,
      lost: this.missing(),
      duplicated: dup,
      disconnects: this.disconnects,
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.socket !== null) {
      this.send({ cmd: 'disconnect' });
      this.socket.end();
      this.socket = null;
    }
  }
}
