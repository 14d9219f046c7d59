/**
 * A protocol-agnostic TCP / TLS listener: accepts, enforces the connection limit, reads the
 * PROXY header when configured, terminates TLS (mTLS, SNI, ALPN, shared ticket keys, hot
 * reload), then hands the clean socket and its ConnectionInfo to the stage above (HTTP or
 * MQTT). The stage owns the socket from then on.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../core/config.js';
import type { ListenerEvent, RefusalReason } from '../core/events.js';
import { ListenError, TlsConfigError } from './errors.js';
import { readProxyHeader } from './proxy-reader.js';
import { setConnectionInfo, type ConnectionInfo } from './connection-info.js';
import { loadTls, pickSni, resumedPeerTrusted, tlsFiles, type LoadedTls } from './tls-context.js';
import type { ProxyHeader } from './proxy-protocol.js';
import { cidrSet } from '../core/cidr.js';
import type { ClientLimits } from './client-limits.js';

/** Why a listener closed a connection (a bounded metric label) and what it publishes: src/core/events.ts. */
export type { ListenerEvent, RefusalReason } from '../core/events.js';

export interface ListenerOptions {
  readonly tlsHandshakeTimeoutMs: number;
  readonly proxyProtocolTimeoutMs: number;
  readonly maxConnections: number;
  /**
   * Connections allowed to sit in their TLS handshake or PROXY header at once; a new one
   * beyond it closes the oldest of them (so a crowd of silent sockets cannot lock clients out).
   */
  readonly maxPendingConnections: number;
  /** Per-client-address connection limit shared by every listener of the process. */
  readonly clientLimits?: ClientLimits;
  /** ALPN protocols offered on TLS, in preference order; default none. */
  readonly alpn?: readonly string[];
  /** Receives every accepted (and, for TLS, handshaken) connection. Must not throw. */
  readonly onConnection: (socket: Socket | TLSSocket, info: ConnectionInfo) => void;
  readonly onEvent?: (event: ListenerEvent) => void;
}

export interface Listener {
  readonly name: string;
  readonly config: ListenerConfig;
  /** Bind; resolves with the bound address (port 0 → the real port). */
  start(): Promise<AddressInfo>;
  /** The bound address, or null before start / after close. */
  address(): AddressInfo | null;
  /** Re-read certs, keys, CA, CRL and ticket keys; new handshakes use them, open connections keep theirs. */
  reloadTls(): Promise<void>;
  /** Open TCP connections right now (before and after TLS). */
  connectionCount(): number;
  /** Earliest expiry (ms since epoch) of the certificates in use; null without TLS. */
  certificateNotAfterMs(): number | null;
  /** Stop accepting; resolves once every connection has closed (the stage above drains them). */
  stopAccepting(): Promise<void>;
  /** Destroy every open connection (the end of a grace period). */
  destroyConnections(): void;
}

const noop = (): void => {};

/** Kernels where Node's `reusePort` (SO_REUSEPORT balancing across processes) is available. */
const REUSE_PORT_PLATFORMS: ReadonlySet<string> = new Set(['linux', 'freebsd', 'sunos', 'aix']);

/**
 * `reusePort` came in Node 22.12 / 23.1; an older Node ignores it, and two workers binding
 * `exclusive` sockets to one port would then fail with EADDRINUSE.
 */
function nodeHasReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * A cluster worker binds its own listening socket with SO_REUSEPORT, so the kernel spreads
 * connections over the workers' accept queues: no round-robin hop through the primary, and
 * no worker starving another as with a shared accept. Port 0 keeps the shared socket (each
 * worker would otherwise get a port of its own); elsewhere (a single process, a platform
 * without SO_REUSEPORT) the listen is what it always was.
 */
export function listenOptions(
  port: number,
  host: string,
  worker: boolean = cluster.isWorker,
  platform: string = process.platform,
  nodeVersion: string = process.versions.node,
): { port: number; host: string; exclusive?: true; reusePort?: true } {
  return worker && port !== 0 && REUSE_PORT_PLATFORMS.has(platform) && nodeHasReusePort(nodeVersion)
    ? { port, host, exclusive: true, reusePort: true }
    : { port, host };
}

export function createListener(config: ListenerConfig, options: ListenerOptions): Listener {
  const onEvent = options.onEvent ?? noop;
  const sockets = new Set<Socket>();
  let tls: LoadedTls | null = null;
  let tlsServer: TlsServer | null = null;
  // PROXY info waiting for its TLS handshake, keyed by the TCP peer (unique per live connection).
  const pending = new Map<string, { readonly info: ConnectionInfo; readonly raw: Socket }>();
  // Sockets not handed over yet (PROXY header or TLS handshake under way), oldest first.
  const unfinished = new Set<Socket>();
  const trusted = config.proxyProtocol ? cidrSet(config.trustedProxies) : null;
  const limits = options.clientLimits;
  let watching = false;

  const server: Server = createNetServer({ noDelay: true, pauseOnConnect: config.proxyProtocol });
  server.maxConnections = options.maxConnections;
  server.on('drop', () =>
    onEvent({ type: 'connection-refused', listener: config.name, reason: 'max-connections' }),
  );
  server.on('connection', onTcp);

  function baseInfo(socket: Socket, header: ProxyHeader | null): ConnectionInfo {
    const src = header?.source ?? null;
    const dst = header?.destination ?? null;
    // PROXY LOCAL / UNKNOWN: the balancer's own connection, so the socket's addresses are the truth.
    if (src !== null && dst !== null) {
      return {
        listener: config.name,
        protocol: config.protocol,
        remoteAddress: src.address,
        remotePort: src.port,
        localAddress: dst.address,
        localPort: dst.port,
        proxied: true,
        secure: tlsServer !== null,
      };
    }
    return {
      listener: config.name,
      protocol: config.protocol,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
      proxied: false,
      secure: tlsServer !== null,
    };
  }

  function refuse(socket: Socket, reason: RefusalReason): void {
    socket.destroy();
    onEvent({ type: 'connection-refused', listener: config.name, reason });
  }

  function onTcp(socket: Socket): void {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Until the stage above takes over, an error must not crash the process.
    socket.on('error', noop);
    // A PROXY header names the client; only the balancer may send one, or anyone could
    // claim any address (and with it a peer gateway's trust or someone else's limits).
    if (trusted !== null && !trusted.has(socket.remoteAddress ?? ''))
      return refuse(socket, 'untrusted-proxy');
    if (!config.proxyProtocol) {
      accepted(socket, baseInfo(socket, null));
      return;
    }
    wait(socket);
    socket.resume();
    readProxyHeader(socket, options.proxyProtocolTimeoutMs).then(
      (header) => accepted(socket, baseInfo(socket, header)),
      (err: Error) => onEvent({ type: 'proxy-error', listener: config.name, message: err.message }),
    );
  }

  /** Count a socket as unfinished; past the bound, the oldest unfinished one makes room. */
  function wait(socket: Socket): void {
    if (unfinished.size >= options.maxPendingConnections) {
      const oldest = unfinished.values().next().value;
      if (oldest !== undefined) {
        unfinished.delete(oldest);
        refuse(oldest, 'pending-evicted');
      }
    }
    unfinished.add(socket);
    socket.once('close', () => unfinished.delete(socket));
  }

  /** The client is known (socket peer or PROXY source): apply its connection limit, then hand over. */
  function accepted(socket: Socket, info: ConnectionInfo): void {
    if (limits !== undefined) {
      const release = limits.openConnection(info.remoteAddress);
      if (release === null) {
        unfinished.delete(socket);
        return refuse(socket, 'client-connections');
      }
      socket.once('close', release);
    }
    handOver(socket, info);
  }

  function handOver(socket: Socket, info: ConnectionInfo): void {
    if (tlsServer === null) {
      unfinished.delete(socket);
      setConnectionInfo(socket, info);
      options.onConnection(socket, info);
      return;
    }
    if (!unfinished.has(socket)) wait(socket);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    pending.set(key, { info, raw: socket });
    socket.once('close', () => pending.delete(key));
    tlsServer.emit('connection', socket);
  }

  function onSecure(socket: TLSSocket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const entry = pending.get(key);
    pending.delete(key);
    if (entry === undefined) {
      socket.destroy();
      return;
    }
    unfinished.delete(entry.raw);
    const pendingInfo = entry.info;
    const resumed = socket.isSessionReused();
    const tlsCfg = config.tls!;
    let info: ConnectionInfo = pendingInfo;
    if (tlsCfg.requestCert) {
      // A resumed session skipped certificate verification: re-check the certificate against
      // the CA and CRL in force now, or a certificate revoked since would keep working.
      const trustedPeer = resumed ? resumedPeerTrusted(tls?.trust ?? null, socket) : socket.authorized;
      if (!trustedPeer && resumed && !tlsCfg.clientCertOptional) {
        onEvent({
          type: 'tls-error',
          listener: config.name,
          code: 'ERR_TLS_RESUMED_CERTIFICATE_UNTRUSTED',
          message: 'resumed session with a client certificate the current CA / CRL refuses',
        });
        return refuse(socket, 'resumed-cert-untrusted');
      }
      info = { ...pendingInfo, peerCertTrusted: trustedPeer };
    }
    onEvent({
      type: 'tls-handshake',
      listener: config.name,
      protocol: socket.getProtocol() ?? 'unknown',
      resumed,
    });
    socket.on('error', noop);
    setConnectionInfo(socket, info);
    options.onConnection(socket, info);
  }

  function makeTlsServer(loaded: LoadedTls): TlsServer {
    const tlsCfg = config.tls!;
    const s = createTlsServer({
      ...loaded.options,
      requestCert: tlsCfg.requestCert,
      // With requestCert, a missing cert fails the handshake in OpenSSL and an untrusted or
      // revoked one is destroyed by Node right after it, before a single request byte is read.
      rejectUnauthorized: tlsCfg.requestCert && !tlsCfg.clientCertOptional,
      handshakeTimeout: options.tlsHandshakeTimeoutMs,
      ...(options.alpn === undefined ? {} : { ALPNProtocols: [...options.alpn] }),
      SNICallback: (servername, cb) => cb(null, tls === null ? undefined : pickSni(tls, servername)),
    });
    s.on('secureConnection', onSecure);
    s.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      // Node only reports a failed or timed-out handshake; the socket stays open until we close
      // it, and a crowd of silent ones would hold every connection slot.
      socket.destroy();
      onEvent({ type: 'tls-error', listener: config.name, code: err.code ?? 'TLS', message: err.message });
    });
    return s;
  }

  async function reloadTls(): Promise<void> {
    if (config.tls === undefined || tlsServer === null) return;
    try {
      const next = await loadTls(config.tls, config.name);
      tlsServer.setSecureContext(next.options);
      // With a key file the keys are derived from it and the CA + CRL (tls-context.ts); without
      // one, a CA or CRL change sets fresh random keys rather than rely on what the new context
      // inherits. Either way a ticket issued before a revocation no longer resumes.
      if (next.ticketKeys !== null) tlsServer.setTicketKeys(next.ticketKeys);
      else if (tls !== null && next.trustDigest !== tls.trustDigest) tlsServer.setTicketKeys(randomBytes(48));
      tls = next;
      onEvent({ type: 'tls-reloaded', listener: config.name });
    } catch (err) {
      const error = err instanceof Error ? err : new TlsConfigError(String(err));
      onEvent({ type: 'tls-reload-failed', listener: config.name, error });
      throw error;
    }
  }

  function watch(): void {
    const cfg = config.tls;
    if (cfg === undefined || !cfg.watch) return;
    watching = true;
    let timer: NodeJS.Timeout | null = null;
    // Editors and cert-manager write cert and key one after the other: reload once both landed.
    const onChange = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        reloadTls().catch(noop);
      }, 100);
      timer.unref();
    };
    for (const f of new Set(tlsFiles(cfg)))
      watchFile(f, { interval: cfg.watchIntervalMs, persistent: false }, onChange);
  }

  function unwatch(): void {
    if (!watching || config.tls === undefined) return;
    watching = false;
    for (const f of new Set(tlsFiles(config.tls))) unwatchFile(f);
  }

  return {
    name: config.name,
    config,
    certificateNotAfterMs: () => tls?.notAfterMs ?? null,
    async start() {
      if (config.tls !== undefined) {
        tls = await loadTls(config.tls, config.name);
        tlsServer = makeTlsServer(tls);
        if (tls.ticketKeys !== null) tlsServer.setTicketKeys(tls.ticketKeys);
      }
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void =>
          reject(
            new ListenError(
              `listener ${config.name} cannot listen on ${config.host}:${config.port}: ${err.message}`,
              err,
            ),
          );
        server.once('error', onError);
        server.listen({ ...listenOptions(config.port, config.host), backlog: config.backlog }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      // After listening, a server error (EMFILE on accept) is reported, never thrown.
      server.on('error', noop);
      watch();
      return server.address() as AddressInfo;
    },
    address() {
      const a = server.address();
      return a === null || typeof a === 'string' ? null : a;
    },
    reloadTls,
    connectionCount() {
      return sockets.size;
    },
    stopAccepting() {
      unwatch();
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
    },
    destroyConnections() {
      for (const s of sockets) s.destroy();
    },
  };
}
