/**
 * HTTP/2 spoken by hand, for attacks node:http2's client will not send as written (it queues
 * streams beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS and drops the queued ones it is
 * asked to reset): frames (RFC 9113 §4.1), header blocks with HPACK's static table and literals
 * that are never indexed (RFC 7541, so no dynamic table state on either side), and a reader
 * that splits what the server sends back into frames.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** The client connection preface (RFC 9113 §3.4), before the client's first SETTINGS. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
export const GOAWAY = 0x7;

/** Flags: END_STREAM (HEADERS) and ACK (SETTINGS, PING) are both bit 0. */
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;

/** Error codes (RFC 9113 §7). */
export const INTERNAL_ERROR = 0x2;
export const CANCEL = 0x8;
export const ENHANCE_YOUR_CALM = 0xb;

/** SETTINGS_MAX_CONCURRENT_STREAMS' identifier (RFC 9113 §6.5.2). */
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One frame: 24-bit length, type, flags, reserved bit + 31-bit stream id, payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function settingsFrame(ack = false): Buffer {
  return frame(SETTINGS, ack ? ACK : 0, 0);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(RST_STREAM, 0, streamId, p);
}

/** PING with its 8 bytes of opaque data. */
export function pingFrame(data: Buffer, ack = false): Buffer {
  if (data.length !== 8) throw new Error(`PING data is 8 bytes, not ${data.length}`);
  return frame(PING, ack ? ACK : 0, 0, data);
}

/** HPACK integer (RFC 7541 §5.1) with an N-bit prefix, the first byte's high bits `mask`. */
function hpackInt(value: number, prefixBits: number, mask: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [mask | value];
  const out = [mask | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** HPACK string literal (RFC 7541 §5.2), not Huffman-coded. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/**
 * Static table indexes (RFC 7541 Appendix A) for the entries used here: full name + value
 * pairs go out as one indexed byte, names alone as the name part of a literal.
 */
const STATIC_PAIRS: Readonly<Record<string, number>> = {
  ':method GET': 2,
  ':path /': 4,
  ':scheme https': 7,
};
const STATIC_NAMES: Readonly<Record<string, number>> = {
  ':authority': 1,
  ':method': 2,
  ':path': 4,
  ':scheme': 6,
};

/**
 * A header block for `headers`, in order: an indexed field (0x80 | index) for a static pair, a
 * literal without indexing (RFC 7541 §6.2.2) with an indexed name (0x0 | index) for a static
 * name, otherwise with a literal name (0x00, name, value). Names must be lowercase.
 */
export function headerBlock(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const pair = STATIC_PAIRS[`${name} ${value}`];
    if (pair !== undefined) {
      parts.push(Buffer.from(hpackInt(pair, 7, 0x80)));
      continue;
    }
    const index = STATIC_NAMES[name];
    if (index !== undefined) parts.push(Buffer.from(hpackInt(index, 4, 0)), hpackString(value));
    else parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  }
  return Buffer.concat(parts);
}

/** A whole request in one HEADERS frame (END_HEADERS, plus END_STREAM unless a body follows). */
export function headersFrame(streamId: number, block: Buffer, endStream = true): Buffer {
  return frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, block);
}

/** Splits a byte stream into frames as it arrives. */
class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  /** The frames completed by `chunk`. */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Frame[] = [];
    while (this.#buf.length >= 9) {
      const length = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + length) break;
      out.push({
        type: this.#buf[3]!,
        flags: this.#buf[4]!,
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buf.subarray(9, 9 + length),
      });
      this.#buf = this.#buf.subarray(9 + length);
    }
    return out;
  }
}

/** SETTINGS payload as identifier → value. */
function parseSettings(payload: Buffer): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6)
    m.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  return m;
}

/** GOAWAY payload: last stream id and error code. */
export function parseGoaway(payload: Buffer): { readonly lastStreamId: number; readonly code: number } {
  return { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
}

/**
 * A TLS connection to 127.0.0.1:`port` that chose h2 by ALPN (the server's certificate not
 * checked); resolves once the handshake is done, before anything HTTP/2 is sent.
 */
function dialH2(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      { port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2'] },
      () => {
        s.off('error', reject);
        if (s.alpnProtocol === 'h2') resolve(s);
        else {
          s.destroy();
          reject(new Error(`ALPN chose ${String(s.alpnProtocol)}, not h2`));
        }
      },
    );
    s.once('error', reject);
  });
}

/** An HTTP/2 connection whose every frame the test writes itself. */
export interface RawH2 {
  readonly socket: TLSSocket;
  /** Every frame the server sent so far, in order. */
  readonly frames: Frame[];
  /** The server's SETTINGS (its connection preface), already acknowledged. */
  readonly serverSettings: Map<number, number>;
  /** Settles once the connection has closed (either side). */
  readonly closed: Promise<void>;
  /** The first frame, received or still to come, that `match` accepts; null once closed without one. */
  frame(match: (f: Frame) => boolean): Promise<Frame | null>;
}

/**
 * Connects, sends the client preface and an empty SETTINGS, and resolves once the server's
 * SETTINGS arrived and were acknowledged: the connection is ready for the test's frames
 * (`socket.write`). Later non-ACK SETTINGS are acknowledged as well; nothing else is answered.
 */
export async function openRawH2(port: number): Promise<RawH2> {
  const socket = await dialH2(port);
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const waiters: { match: (f: Frame) => boolean; resolve: (f: Frame | null) => void }[] = [];
  const reader = new FrameReader();
  let isClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w.resolve(null);
      resolve();
    }),
  );
  socket.on('data', (chunk: Buffer) => {
    for (const f of reader.push(chunk)) {
      frames.push(f);
      if (f.type === SETTINGS && (f.flags & ACK) === 0) socket.write(settingsFrame(true));
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (!w.match(f)) continue;
        waiters.splice(i, 1);
        w.resolve(f);
      }
    }
  });
  const frame = (match: (f: Frame) => boolean): Promise<Frame | null> => {
    const seen = frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    if (isClosed) return Promise.resolve(null);
    return new Promise((resolve) => waiters.push({ match, resolve }));
  };
  socket.write(Buffer.concat([PREFACE, settingsFrame()]));
  const first = await frame((f) => f.type === SETTINGS && (f.flags & ACK) === 0);
  if (first === null) throw new Error('the server closed the connection before its SETTINGS');
  return {
    socket,
    frames,
    serverSettings: parseSettings(first.payload),
    closed,
    frame,
  };
}

/** `f` is the ACK of a PING that carried `data`. */
export function isPingAck(f: Frame, data: Buffer): boolean {
  return f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(data);
}
