/**
 * The smallest MQTT 3.1.1 client `zonegate demo --drill` needs: connect, subscribe, publish at
 * QoS 0, and tell whether the connection ever closed. Not a general client (no QoS 1/2, no
 * reconnect, on purpose: the drill shows that the gateway moves the session under one open
 * connection, so a reconnect must be visible, not hidden).
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

export interface DemoMqttClientEvents {
  message: [topic: string, payload: string];
  close: [];
}

export class DemoMqttClient extends EventEmitter<DemoMqttClientEvents> {
  readonly clientId: string;
  /** CONNACKs received: 1 for the whole drill means the client never reconnected. */
  connacks = 0;
  closed = false;
  readonly #socket: Socket;
  readonly #acks = new Map<number, (p: Packet) => void>();
  #nextId = 1;

  private constructor(socket: Socket, clientId: string) {
    super();
    this.#socket = socket;
    this.clientId = clientId;
  }

  /** Connects and waits for a CONNACK that accepts; rejects with the refusal or the socket error. */
  static async connect(
    host: string,
    port: number,
    clientId: string,
    timeoutMs = 5000,
  ): Promise<DemoMqttClient> {
    const socket = connect({ host, port });
    const client = new DemoMqttClient(socket, clientId);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let connack: ((p: Packet) => void) | null = null;
    parser.on('packet', (p: Packet) => client.#onPacket(p, connack));
    parser.on('error', (err: Error) => socket.destroy(err));
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('close', () => {
      client.closed = true;
      client.emit('close');
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no CONNACK from ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      connack = (p) => {
        clearTimeout(timer);
        connack = null;
        const code = (p as { returnCode?: number }).returnCode ?? 0;
        if (code !== 0) {
          socket.destroy();
          reject(new Error(`${host}:${port} refused ${clientId}: CONNACK return code ${code}`));
          return;
        }
        socket.on('error', () => undefined);
        resolve(client);
      };
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId,
          keepalive: 60,
        }),
      );
    });
  }

  #onPacket(p: Packet, connack: ((p: Packet) => void) | null): void {
    if (p.cmd === 'connack') {
      this.connacks++;
      connack?.(p);
    } else if (p.cmd === 'publish') {
      this.emit('message', p.topic, p.payload.toString());
    } else if (p.cmd === 'suback' && p.messageId !== undefined) {
      this.#acks.get(p.messageId)?.(p);
    }
  }

  async subscribe(topic: string): Promise<void> {
    const messageId = this.#nextId++;
    const acked = new Promise<Packet>((resolve, reject) => {
      this.#acks.set(messageId, resolve);
      this.once('close', () => reject(new Error(`connection closed before the SUBACK for ${topic}`)));
    });
    this.#socket.write(
      mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos: 0 }] }),
    );
    const suback = await acked;
    this.#acks.delete(messageId);
    const granted = (suback as { granted?: number[] }).granted ?? [];
    if (granted[0] === 0x80) throw new Error(`subscription to ${topic} refused`);
  }

  publish(topic: string, payload: string): void {
    this.#socket.write(
      mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }),
    );
  }

  /** DISCONNECT, then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    const gone = new Promise<void>((resolve) => this.once('close', () => resolve()));
    this.#socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    await gone;
  }
}
