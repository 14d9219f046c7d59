/**
 * Load generator for bench/mqtt.ts: one of several child processes (`--role gen`), each owning
 * a share of the clients, so the generator side is not one event loop's worth of CPU. The
 * orchestrator sends commands over IPC and times them from the outside; every command answers
 * once, with the same id.
 */
import { Client, publishPacket, sleep, subscribePacket, wallMs, type Secure } from './mqtt-wire.js';

export type GenCommand =
  | {
      readonly cmd: 'connect';
      readonly port: number;
      readonly tls: boolean;
      readonly from: number;
      readonly to: number;
      readonly prefix: string;
      readonly concurrency: number;
    }
  | { readonly cmd: 'storm'; readonly port: number; readonly tls: boolean; readonly timeoutMs: number }
  | { readonly cmd: 'close' }
  | { readonly cmd: 'sub'; readonly port: number; readonly topic: string; readonly qos: number }
  | { readonly cmd: 'subwait'; readonly expect: number }
  | {
      readonly cmd: 'pub';
      readonly port: number;
      readonly topic: string;
      readonly qos: number;
      readonly messages: number;
    };

export interface GenReply {
  readonly id: number;
  readonly ok?: number;
  readonly failed?: number;
  readonly retries?: number;
  readonly received?: number;
  readonly startAt?: number;
  readonly lastAt?: number;
}

const SECURE: Secure = { rejectUnauthorized: false };

/** uids 100..109 (shards 00-09): zone rz00 on the example map, for Zonegate and HAProxy alike. */
export function clientId(prefix: string, i: number): string {
  return `10${i % 10}-${prefix}-${i}`;
}

async function connectOne(port: number, id: string, secure: Secure): Promise<Client | null> {
  const c = new Client(port, id, secure);
  try {
    await c.connack;
    return c;
  } catch {
    c.close();
    return null;
  }
}

export function roleGen(): void {
  let held: Client[] = [];
  let sub: Client | null = null;
  const handle = async (m: GenCommand): Promise<Omit<GenReply, 'id'>> => {
    switch (m.cmd) {
      case 'connect': {
        let next = m.from;
        let failed = 0;
        const secure = m.tls ? SECURE : null;
        const worker = async (): Promise<void> => {
          while (next < m.to) {
            const c = await connectOne(m.port, clientId(m.prefix, next++), secure);
            if (c === null) failed++;
            else held.push(c);
          }
        };
        await Promise.all(Array.from({ length: Math.max(1, m.concurrency) }, worker));
        return { ok: held.length, failed };
      }
      case 'storm': {
        // Every held client loses its connection at once and reconnects at once with the same
        // client id (its broker session is taken over), retrying a refused or reset connect
        // after 50-150 ms, like a client library's back-off, until the time limit.
        const ids = held.map((c) => c.clientId);
        for (const c of held) c.close();
        held = [];
        const secure = m.tls ? SECURE : null;
        const deadline = performance.now() + m.timeoutMs;
        let retries = 0;
        let failed = 0;
        await Promise.all(
          ids.map(async (id) => {
            for (;;) {
              const c = await connectOne(m.port, id, secure);
              if (c !== null) {
                held.push(c);
                return;
              }
              if (performance.now() > deadline) {
                failed++;
                return;
              }
              retries++;
              await sleep(50 + Math.random() * 100);
            }
          }),
        );
        return { ok: held.length, failed, retries };
      }
      case 'close': {
        const all = held;
        held = [];
        for (const c of all) c.close();
        await Promise.all(all.map((c) => c.gone));
        return {};
      }
      case 'sub': {
        sub?.close();
        const s = new Client(m.port, clientId(`sub-${m.topic.replace(/\W/g, '')}`, 0));
        sub = s;
        await s.connack;
        s.socket.write(subscribePacket(m.topic, m.qos));
        await s.suback;
        return {};
      }
      case 'subwait': {
        const s = sub as Client;
        // Done when everything arrived, or nothing more came for 1.5 s (QoS 0 may drop).
        let last = -1;
        let since = performance.now();
        while (s.received < m.expect) {
          await sleep(20);
          if (s.received !== last) {
            last = s.received;
            since = performance.now();
          } else if (performance.now() - since > 1500) break;
        }
        s.close();
        sub = null;
        return { received: s.received, lastAt: s.lastAt };
      }
      case 'pub': {
        const pub = new Client(m.port, clientId(`pub-${m.topic.replace(/\W/g, '')}`, 1));
        await pub.connack;
        const payload = Buffer.alloc(64, 0x61);
        const startAt = wallMs();
        if (m.qos === 0) {
          const batch = Buffer.concat(
            Array.from({ length: 100 }, () => publishPacket(m.topic, payload, 0, 0)),
          );
          for (let sent = 0; sent < m.messages; sent += 100) {
            if (!pub.socket.write(batch)) await new Promise((r) => pub.socket.once('drain', r));
          }
        } else {
          let sent = 0;
          let id = 0;
          const window = 64;
          await new Promise<void>((resolve) => {
            const pump = (): void => {
              while (sent < m.messages && sent - pub.acked < window) {
                id = id === 65_535 ? 1 : id + 1;
                pub.socket.write(publishPacket(m.topic, payload, 1, id));
                sent++;
              }
              if (pub.acked >= m.messages) resolve();
            };
            pub.onAck = pump;
            pump();
          });
        }
        // Let the last writes leave before the socket goes.
        await new Promise<void>((r) => pub.socket.end(r));
        return { startAt };
      }
    }
  };
  process.on('message', (m: GenCommand & { id: number }) => {
    handle(m).then(
      (r) => process.send?.({ id: m.id, ...r }),
      () => process.send?.({ id: m.id, failed: -1 }),
    );
  });
  process.send?.({ id: 0 });
}
