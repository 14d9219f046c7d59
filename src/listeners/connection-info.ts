import type { Socket } from 'node:net';
import type { ListenerProtocol } from '../core/config.js';

/** Who is on the other end of a connection, as the L4 balancer saw it. */
export interface ConnectionInfo {
  readonly listener: string;
  readonly protocol: ListenerProtocol;
  /** The client address: from the PROXY header when the listener has one, else the socket's peer. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The address the client connected to (PROXY destination, else our socket's). */
  readonly localAddress: string;
  readonly localPort: number;
  /** True when the addresses come from a PROXY header. */
  readonly proxied: boolean;
  /** True when the connection is TLS (https / mqtts). */
  readonly secure: boolean;
  /**
   * Listeners with `requestCert` only: the client certificate passed the CA and CRL in force
   * now — in this handshake, or re-checked for a resumed session. Absent elsewhere.
   */
  readonly peerCertTrusted?: boolean;
}

// A symbol property rather than a WeakMap: HTTP/2's compat `req.socket` is a Proxy that
// forwards property reads to the real socket but is not itself a WeakMap key.
const kInfo = Symbol('zonegate.connectionInfo');

interface WithInfo {
  [kInfo]?: ConnectionInfo;
}

export function setConnectionInfo(socket: Socket, info: ConnectionInfo): void {
  (socket as Socket & WithInfo)[kInfo] = info;
}

/** The info a listener attached to this socket (or to the socket behind an HTTP/2 stream). */
export function connectionInfo(socket: Socket): ConnectionInfo | undefined {
  return (socket as Socket & WithInfo)[kInfo];
}
