/**
 * An MQTT client whose acknowledgements the test drives: a slow phone that acknowledges late,
 * one that never does, one that floods. Packets are encoded and parsed by mqtt-packet; nothing
 * happens on a timer, so "late" means "when the test says so".
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';

export interface RawConnectOptions {
  readonly clientId: string;
  readonly version: 4 | 5;
  /** Clean Session (3.1.1) / Clean Start (5); default true. */
  readonly clean?: boolean;
  /** MQTT 5 Session Expiry Interval (s): > 0 asks for a persistent session. */
  readonly sessionExpiry?: number;
  /** MQTT 5 Receive Maximum: the most unacknowledged QoS 1/2 deliveries the server may send. */
  readonly receiveMaximum?: number;
  readonly will?: { topic: string; payload: string };
  /** Acknowledge every QoS 1/2 delivery as it arrives (default false: the test acknowledges). */
  readonly autoAck?: boolean;
}

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly id: number;
  readonly dup: boolean;
}

/** MQTT's Remaining Length: 7 bits a byte, low first, the top bit set while more follow. */
export function encodeLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A whole packet by hand: first byte, Remaining Length, body (for bytes mqtt-packet would not write). */
export function frameOf(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...encodeLength(body.length)]), body]);
}

/** Bound for every wait: a wait that is never satisfied fails the test instead of hanging it. */
const WAIT_MS = 15_000;

export class RawClient extends EventEmitter {
  readonly socket: net.Socket;
  readonly version: 4 | 5;
  /** Every PUBLISH received, in order. */
  readonly received: Received[] = [];
  /** QoS 1/2 deliveries not completed by this client yet (QoS 2: until its PUBCOMP), by packet id. */
  readonly inflight = new Map<number, Received>();
  /** Most QoS 1/2 deliveries this client had uncompleted at once. */
  maxInflight = 0;
  autoAck: boolean;
  closed = false;
  private nextId = 1;
  private readonly recSent = new WeakSet<Received>();
  private readonly parser: ReturnType<typeof mqttPacket.parser>;

  private constructor(socket: net.Socket, version: 4 | 5, autoAck: boolean) {
    super();
    this.socket = socket;
    this.version = version;
    this.autoAck = autoAck;
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.emit('error', err));
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.emit('change');
    });
  }

  static async connect(port: number, o: RawConnectOptions): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    const c = new RawClient(socket, o.version, o.autoAck ?? false);
    const properties: IConnectPacket['properties'] = {};
    if (o.sessionExpiry !== undefined) properties.sessionExpiryInterval = o.sessionExpiry;
    if (o.receiveMaximum !== undefined) properties.receiveMaximum = o.receiveMaximum;
    const connect: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: o.version,
      clean: o.clean ?? true,
      clientId: o.clientId,
      keepalive: 0,
      ...(o.version === 5 ? { properties } : {}),
      ...(o.will === undefined
        ? {}
        : { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 0, retain: false } }),
    };
    socket.write(mqttPacket.generate(connect, { protocolVersion: o.version }));
    const ack = await c.next('connack');
    const code = (o.version === 5 ? ack.reasonCode : ack.returnCode) ?? 0;
    if (code !== 0) throw new Error(`CONNACK ${code}`);
    return c;
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  async subscribe(topic: string, qos: 0 | 1 | 2): Promise<void> {
    const messageId = this.id();
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
    await this.next('suback', (p) => p.messageId === messageId);
  }

  /** Publish and wait for the broker's PUBACK (QoS 1) or PUBCOMP (QoS 2). */
  async publish(topic: string, payload: string, qos: 1 | 2): Promise<void> {
    const messageId = this.id();
    this.send({
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos,
      retain: false,
      dup: false,
      messageId,
    });
    if (qos === 1) {
      await this.next('puback', (p) => p.messageId === messageId);
      return;
    }
    await this.next('pubrec', (p) => p.messageId === messageId);
    this.send({ cmd: 'pubrel', messageId });
    await this.next('pubcomp', (p) => p.messageId === messageId);
  }

  /** Acknowledge every delivery not acknowledged yet (QoS 1: PUBACK; QoS 2: PUBREC, PUBCOMP follows the PUBREL). */
  ackAll(): void {
    for (const r of [...this.inflight.values()]) this.ack(r);
  }

  /** Distinct payloads received. */
  payloads(): Set<string> {
    return new Set(this.received.map((r) => r.payload));
  }

  /** How many payloads arrived more than once. */
  duplicates(): number {
    return this.received.length - this.payloads().size;
  }

  /** Resolve when `check` holds; checked now and after every packet (no polling). */
  until(what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('change', onChange);
        reject(new Error(`timed out waiting for ${what}: ${this.received.length} received`));
      }, timeoutMs);
      const onChange = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.off('change', onChange);
        resolve();
      };
      this.on('change', onChange);
    });
  }

  disconnect(): void {
    this.send({ cmd: 'disconnect' });
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = id === 65_535 ? 1 : id + 1;
    return id;
  }

  private ack(r: Received): void {
    if (r.qos === 1) {
      this.inflight.delete(r.id);
      this.send({ cmd: 'puback', messageId: r.id });
    } else if (r.qos === 2 && !this.recSent.has(r)) {
      this.recSent.add(r);
      this.send({ cmd: 'pubrec', messageId: r.id });
    }
  }

  private next<T extends Packet['cmd']>(
    cmd: T,
    match: (p: Extract<Packet, { cmd: T }>) => boolean = () => true,
  ): Promise<Extract<Packet, { cmd: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${cmd} within ${WAIT_MS} ms`));
      }, WAIT_MS);
      const onPacket = (p: Packet): void => {
        if (p.cmd !== cmd || !match(p as Extract<Packet, { cmd: T }>)) return;
        cleanup();
        resolve(p as Extract<Packet, { cmd: T }>);
      };
      const onClose = (): void => {
        cleanup();
        reject(new Error(`closed while waiting for ${cmd}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('packet', onPacket);
        this.socket.off('close', onClose);
      };
      this.on('packet', onPacket);
      this.socket.once('close', onClose);
    });
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'publish') {
      const r: Received = {
        topic: p.topic,
        payload: Buffer.from(p.payload).toString(),
        qos: p.qos,
        id: p.messageId ?? 0,
        dup: p.dup,
      };
      this.received.push(r);
      if (r.qos > 0) {
        this.inflight.set(r.id, r);
        this.maxInflight = Math.max(this.maxInflight, this.inflight.size);
        if (this.autoAck) this.ack(r);
      }
    } else if (p.cmd === 'pubrel') {
      // QoS 2 delivery, step 3: complete it (§4.3.3); it leaves the window now.
      this.inflight.delete(p.messageId ?? 0);
      this.send({ cmd: 'pubcomp', messageId: p.messageId ?? 0 });
    }
    this.emit('packet', p);
    this.emit('change');
  }
}
