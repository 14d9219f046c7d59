/**
 * Splits a byte stream into whole MQTT packets, bounded before anything is buffered.
 *
 * The fixed header (MQTT 3.1.1 §2.2, MQTT 5 §2.1.1) is checked here, byte by byte: the type
 * and flags must be legal, the Remaining Length is a Variable Byte Integer of at most four
 * bytes (§1.5.5 / 3.1.1 §2.2.3: a fifth continuation byte is malformed), and header plus
 * remaining length must fit the configured maximum. Only then are bytes kept, and only the
 * bytes actually received (a client announcing 256 MB and sending 10 costs 10).
 *
 * Complete packets inside a chunk are handed out as views of the chunk (no copy); only a
 * packet split across chunks is copied.
 */
import type { ZonegateError } from '../core/errors.js';
import { MqttMalformedPacketError, MqttPacketTooLargeError } from './errors.js';
import { validFixedHeader } from './packet-type.js';

export interface FrameSink {
  /**
   * One complete packet, fixed header included; `headerLength` is 2..5. Return false to stop
   * reading (the connection is being closed): the rest of the chunk is dropped.
   */
  onFrame(frame: Buffer, headerLength: number): boolean;
  /** The stream broke the framing rules; `head` holds the bytes of the offending packet seen so far. */
  onFrameError(error: ZonegateError, head: Buffer): void;
}

/** Largest value a four-byte Variable Byte Integer can carry (§1.5.5). */
export const MAX_REMAINING_LENGTH = 268_435_455;

export class FrameReader {
  /** Header plus remaining length above this is refused (0x95). Mutable: tighter before CONNECT. */
  maxPacketBytes: number;
  /** Protocol level, for the fixed-header flag check (AUTH exists in 5 only). */
  version = 5;
  /**
   * When >= 0, the only packet type accepted: CONNECT before the session exists (§3.1: the first
   * packet must be CONNECT), so a stray first byte is refused without waiting for its length.
   */
  onlyType = -1;
  private readonly sink: FrameSink;
  /** Bytes of a packet whose end has not arrived (or of a header not yet complete). */
  private parts: Buffer[] | null = null;
  private have = 0;
  /** Total size of the partial packet, or -1 while its header is still incomplete. */
  private need = -1;
  private failed = false;

  constructor(sink: FrameSink, maxPacketBytes: number) {
    this.sink = sink;
    this.maxPacketBytes = maxPacketBytes;
  }

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.have;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let data = chunk;
    if (this.parts !== null) {
      if (this.need >= 0) {
        // Filling a packet whose size is known.
        const missing = this.need - this.have;
        if (chunk.length < missing) {
          this.parts.push(Buffer.from(chunk));
          this.have += chunk.length;
          return;
        }
        this.parts.push(chunk.subarray(0, missing));
        const frame = Buffer.concat(this.parts, this.need);
        const headerLength = headerLengthOf(frame);
        this.parts = null;
        this.have = 0;
        this.need = -1;
        if (!this.sink.onFrame(frame, headerLength)) {
          this.failed = true;
          return;
        }
        data = chunk.subarray(missing);
      } else {
        // At most four header bytes were held: join them with the new chunk.
        this.parts.push(chunk);
        data = Buffer.concat(this.parts);
        this.parts = null;
        this.have = 0;
      }
    }
    this.scan(data);
  }

  private scan(data: Buffer): void {
    const len = data.length;
    let off = 0;
    while (off < len) {
      const first = data[off] as number;
      if (!validFixedHeader(first, this.version) || (this.onlyType >= 0 && first >> 4 !== this.onlyType)) {
        this.fail(
          new MqttMalformedPacketError(`invalid fixed header byte 0x${first.toString(16)}`),
          data,
          off,
        );
        return;
      }
      // Remaining Length: Variable Byte Integer, at most 4 bytes (§1.5.5).
      let value = 0;
      let multiplier = 1;
      let pos = off + 1;
      let complete = false;
      for (let i = 0; i < 4 && pos < len; i++) {
        const b = data[pos++] as number;
        value += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (pos - off - 1 >= 4) {
          this.fail(new MqttMalformedPacketError('remaining length longer than 4 bytes'), data, off);
          return;
        }
        // Header incomplete: keep its few bytes.
        this.parts = [Buffer.from(data.subarray(off))];
        this.have = len - off;
        this.need = -1;
        return;
      }
      const headerLength = pos - off;
      const total = headerLength + value;
      if (total > this.maxPacketBytes) {
        this.fail(new MqttPacketTooLargeError(total, this.maxPacketBytes), data, off);
        return;
      }
      if (len - off >= total) {
        if (!this.sink.onFrame(data.subarray(off, off + total), headerLength)) {
          this.failed = true;
          return;
        }
        off += total;
      } else {
        // Copy: a view would pin the whole socket chunk while the rest trickles in.
        this.parts = [Buffer.from(data.subarray(off))];
        this.have = len - off;
        this.need = total;
        return;
      }
    }
  }

  private fail(error: ZonegateError, data: Buffer, off: number): void {
    this.failed = true;
    this.parts = null;
    this.have = 0;
    this.sink.onFrameError(error, data.subarray(off, Math.min(data.length, off + 16)));
  }
}

/** Length of the fixed header of a complete packet (1 type byte + 1..4 length bytes). */
export function headerLengthOf(frame: Buffer): number {
  let i = 1;
  while (i < 5 && ((frame[i] as number) & 0x80) !== 0) i++;
  return i + 1;
}
