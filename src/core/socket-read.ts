/**
 * One shared buffer for socket reads: the sockets we open read into it through
 * `net.connect({ onread })` (src/upstream/socket-pool.ts), accepted ones through
 * `readIntoShared`. The process has one thread and every reader copies its bytes out before
 * returning (`copyRead`), so one buffer serves them all.
 *
 * Why: for an accepted socket Node allocates a new ArrayBuffer for every read. Each has its
 * own backing store, and every young-generation collection sweeps the ones that died; at tens
 * of thousands of reads a second that sweep is a large part of each scavenge, and the
 * scavenges are what a keep-alive client's slowest requests wait for. Reading into one shared
 * buffer and copying the bytes out (a slice of Node's pooled allocation for anything under
 * 4 KB) leaves one ArrayBuffer per 8 KB of such reads instead of one per read.
 *
 * How: Node offers `onread` only to sockets it connects, not to those a server accepts, so
 * the two fields that option sets on a socket are set here, found by name on a socket made
 * once at load. Where a Node version has no such fields, `readIntoShared` returns false and
 * the socket reads as usual: the feature costs nothing but speed when it is missing.
 */
import { Socket } from 'node:net';

/** The fields of net.Socket that `onread` sets: the buffer reads land in, and the callback. */
const FIELDS: { buffer: symbol; callback: symbol } | null = (() => {
  const probe = new Socket();
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const buffer = symbols.find((s) => s.description === 'kBuffer');
  const callback = symbols.find((s) => s.description === 'kBufferCb');
  return buffer === undefined || callback === undefined ? null : { buffer, callback };
})();

/** Where reads land: a read's bytes are copied out (copyRead) before the next read can land. */
export const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

type Fields = Record<symbol, unknown>;
interface StreamHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/** The `n` bytes of the last read, as a Buffer of the caller's own (from Node's pool under 4 KB). */
export function copyRead(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  READ_BUFFER.copy(out, 0, 0, n);
  return out;
}

/**
 * From the next read on, `socket`'s bytes go to `onBytes` (each call a Buffer of its own)
 * instead of 'data' events. Bytes already waiting in the stream still come as 'data' events,
 * so a caller listens to both. `pause()` stops reading at once, `resume()` starts it again,
 * and the end of the stream is still the 'end' event. False (nothing changed) for a TLS
 * socket (its reads are decrypted first and stay as they are: the same change measured 7-16%
 * fewer requests per CPU-second over TLS keep-alive, where plain TCP gained 5-18%), a socket
 * without a handle, or on a Node that lacks the fields.
 */
export function readIntoShared(socket: Socket, onBytes: (chunk: Buffer) => void): boolean {
  if ((socket as { encrypted?: boolean }).encrypted === true) return false;
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (FIELDS === null || handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Fields;
  // Returning nothing keeps the socket reading; `pause()` is how a reader stops it.
  fields[FIELDS.callback] = (n: number): void => onBytes(copyRead(n));
  fields[FIELDS.buffer] = READ_BUFFER;
  handle.useUserBuffer(READ_BUFFER);
  return true;
}

/**
 * Back to a plain readable stream, for a socket `readIntoShared` set up that now goes to a
 * reader expecting 'data' events (Node's HTTP server, a WebSocket relay): every read is pushed
 * into the stream as a Buffer of its own, with the stream's backpressure (a full stream stops
 * reading until it is read).
 */
export function readAsStream(socket: Socket): void {
  if (FIELDS === null) return;
  const fields = socket as unknown as Fields;
  if (fields[FIELDS.buffer] !== READ_BUFFER) return;
  fields[FIELDS.callback] = (n: number): boolean => socket.push(copyRead(n));
}
