/**
 * Reads a PROXY protocol header off a fresh socket, bounded in bytes and time, and puts back
 * whatever the client sent after it so the next stage (TLS, HTTP, MQTT) sees a clean stream.
 */
import type { Socket } from 'node:net';
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';
import { ProxyProtocolError } from './errors.js';

/**
 * Resolves with the header, or rejects with ProxyProtocolError after destroying the socket
 * (malformed header, too many bytes, timeout, or the peer going away first).
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise<ProxyHeader>((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const fail = (message: string): void => {
      cleanup();
      socket.destroy();
      reject(new ProxyProtocolError(message));
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const r = parseProxyHeader(
        buffered.length > MAX_PROXY_HEADER_BYTES ? buffered.subarray(0, MAX_PROXY_HEADER_BYTES) : buffered,
      );
      if (r.kind === 'incomplete') {
        if (buffered.length >= MAX_PROXY_HEADER_BYTES) fail('PROXY header too long');
        return;
      }
      if (r.kind === 'invalid') return fail(r.message);
      cleanup();
      // Back to paused mode before unshift, so nothing is emitted until the next stage listens.
      socket.pause();
      if (r.consumed < buffered.length) socket.unshift(buffered.subarray(r.consumed));
      resolve(r.header);
    };
    const onEnd = (): void => fail('connection closed before the PROXY header');
    const onError = (err: Error): void => fail(`socket error before the PROXY header: ${err.message}`);
    const timer = setTimeout(() => fail(`no PROXY header within ${timeoutMs} ms`), timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
