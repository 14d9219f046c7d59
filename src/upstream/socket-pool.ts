/**
 * Keep-alive TCP connections to one upstream address, for a protocol client that speaks over
 * raw sockets (bodyless HTTP requests, src/http/upstream-call.ts). The pool knows nothing
 * of HTTP: it connects (bounded by a timeout), lends a connection to one user at a time, takes
 * it back when the user says it is clean, and closes connections that sit idle too long or
 * that the upstream closes or writes to while idle.
 *
 * Each connection keeps one set of socket listeners for its whole life and forwards the events
 * to whoever holds it: no listener is added or removed per request.
 */
import { connect, type Socket } from 'node:net';
import { copyRead, READ_BUFFER } from '../core/socket-read.js';

/** The one who holds a pooled connection: gets its socket's events until it releases it. */
export interface ConnUser {
  /** The connection is ready for this user (fresh or reused). */
  onConn(conn: PooledConn): void;
  /**
   * No connection could be made: `code` is the socket's error code, UND_ERR_CONNECT_TIMEOUT, or
   * UND_ERR_DESTROYED when the pool's own destroy() ended the wait (the gateway, not the upstream).
   */
  onConnFailed(code: string, err: Error): void;
  onConnData(chunk: Buffer): void;
  /** The upstream ended its side (FIN). */
  onConnEnd(): void;
  /** The socket is gone (after an error, a reset, or our own destroy); `err` when it failed. */
  onConnClose(err: Error | null): void;
  /** No byte moved for the pool's `timeoutMs`. */
  onConnTimeout(): void;
}

export interface SocketPoolOptions {
  readonly host: string;
  readonly port: number;
  /** Connections open at once (busy, idle and connecting); more users wait in line. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /** A lent connection silent this long tells its user (onConnTimeout). */
  readonly timeoutMs: number;
  /** An idle connection is closed after this long. */
  readonly idleTimeoutMs: number;
}

/** Why a connect failed when nothing else says (a timeout has no socket error). */
export const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * Why a wait for a connection ended when the pool's own destroy() ended it (gateway shutdown):
 * the code undici gives requests on a destroyed pool. Never the upstream's doing.
 */
export const POOL_DESTROYED = 'UND_ERR_DESTROYED';

function poolDestroyedError(): Error {
  return Object.assign(new Error('the gateway closed its connection pool to this upstream'), {
    code: POOL_DESTROYED,
  });
}

export class PooledConn {
  readonly socket: Socket;
  readonly pool: SocketPool;
  user: ConnUser | null;
  /** Exchanges this connection has finished: a reused one (> 0) may have been closed meanwhile. */
  served = 0;
  connected = false;

  constructor(pool: SocketPool, socket: Socket, user: ConnUser) {
    this.pool = pool;
    this.socket = socket;
    this.user = user;
    socket.on('connect', this.#onConnect);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
  }

  #error: Error | null = null;

  readonly #onConnect = (): void => {
    this.connected = true;
    const s = this.socket;
    s.setNoDelay(true);
    s.setTimeout(this.pool.options.timeoutMs);
    const u = this.user;
    if (u !== null) u.onConn(this);
    else this.pool.release(this, true);
  };

  /** `onread` callback: `n` bytes are in the shared READ_BUFFER, valid until we return. */
  read(n: number): boolean {
    const u = this.user;
    if (u === null) {
      // Bytes nobody asked for: whatever the upstream meant, this connection is not clean.
      this.socket.destroy();
      return false;
    }
    // The holder may keep the bytes (a client write not yet flushed, a head in pieces): its own copy.
    u.onConnData(copyRead(n));
    // Reading goes on unless the holder paused the socket (pause() stops it itself).
    return true;
  }

  readonly #onEnd = (): void => {
    const u = this.user;
    if (u !== null) u.onConnEnd();
    else this.socket.destroy();
  };

  readonly #onError = (err: Error): void => {
    this.#error = err;
  };

  readonly #onClose = (): void => {
    this.pool.forget(this);
    const u = this.user;
    this.user = null;
    if (u === null) return;
    const err = this.#error;
    if (!this.connected) {
      // A connect the pool's destroy() cut (it destroys the socket without an error): the
      // gateway closed it, so its user hears what users still in line hear (POOL_DESTROYED),
      // not UND_ERR_SOCKET, which blames the upstream (metrics' `reset` kind, the access log's
      // reason). A socket error recorded before (a refusal, the connect timeout) was the
      // upstream's and is reported as such.
      if (err === null && this.pool.destroyed) {
        u.onConnFailed(POOL_DESTROYED, poolDestroyedError());
        return;
      }
      const code = (err as { code?: string } | null)?.code ?? 'UND_ERR_SOCKET';
      u.onConnFailed(code, err ?? new Error('the upstream closed the connection while connecting'));
    } else {
      // A lent connection the pool's destroy() closed: the same, so a response cut by the
      // shutdown is not counted as the upstream resetting it.
      u.onConnClose(err === null && this.pool.destroyed ? poolDestroyedError() : err);
    }
  };

  readonly #onTimeout = (): void => {
    if (!this.connected) {
      this.#error = Object.assign(
        new Error(`connect timed out after ${this.pool.options.connectTimeoutMs} ms`),
        {
          code: CONNECT_TIMEOUT,
        },
      );
      this.socket.destroy();
      return;
    }
    const u = this.user;
    if (u !== null) {
      u.onConnTimeout();
      return;
    }
    // Idle: its timer was set to idleTimeoutMs when it was released.
    this.socket.destroy();
  };
}

export class SocketPool {
  readonly options: SocketPoolOptions;
  /** Idle connections, the most recently used last (taken first: the least likely closed). */
  readonly #idle: PooledConn[] = [];
  /** Users waiting for a connection, first come first served. */
  readonly #waiting: ConnUser[] = [];
  /** Every open connection (busy, idle, connecting). */
  readonly #all = new Set<PooledConn>();
  #closed = false;
  #destroyed = false;

  constructor(o: SocketPoolOptions) {
    this.options = o;
  }

  /** Connections open now (busy, idle and connecting). */
  get size(): number {
    return this.#all.size;
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** Users waiting for a connection. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** destroy() was called: a connect that ends now was cut by the gateway. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Lend `user` a connection: now if one is idle, after a connect, or when one comes back. */
  acquire(user: ConnUser): void {
    if (this.#destroyed) {
      // After a shutdown (a resend on a connection the destroy closed, a late dispatch): no new
      // connection, the same answer as users that were in line.
      user.onConnFailed(POOL_DESTROYED, poolDestroyedError());
      return;
    }
    const idle = this.#idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (c.socket.destroyed || c.socket.readableEnded) continue;
      c.user = user;
      if (this.options.idleTimeoutMs !== this.options.timeoutMs) c.socket.setTimeout(this.options.timeoutMs);
      user.onConn(c);
      return;
    }
    if (this.#all.size < this.options.connections) this.#open(user);
    else this.#waiting.push(user);
  }

  /** `user` no longer wants the connection it waits for. */
  cancel(user: ConnUser): void {
    const i = this.#waiting.indexOf(user);
    if (i !== -1) {
      this.#waiting.splice(i, 1);
      return;
    }
    // Still connecting for it: the connection goes idle once up, for the next user.
    for (const c of this.#all) if (c.user === user && !c.connected) c.user = null;
  }

  /**
   * The holder is done. `clean`: the exchange ended exactly at a message boundary and the
   * connection may carry another; else it is closed.
   */
  release(c: PooledConn, clean: boolean): void {
    c.user = null;
    const s = c.socket;
    if (!clean || this.#closed || s.destroyed || s.readableEnded) {
      s.destroy();
      return;
    }
    c.served++;
    // Paused by its last holder (a slow client): idle or lent again, it must be read.
    if (s.isPaused()) s.resume();
    const next = this.#waiting.shift();
    if (next !== undefined) {
      c.user = next;
      next.onConn(c);
      return;
    }
    // One timer per socket: the holder's silence limit while lent, the idle limit while kept
    // (no call at all when the two are equal, as by default).
    if (this.options.idleTimeoutMs !== this.options.timeoutMs) s.setTimeout(this.options.idleTimeoutMs);
    this.#idle.push(c);
  }

  /** Called by a connection when its socket closed. */
  forget(c: PooledConn): void {
    if (!this.#all.delete(c)) return;
    const i = this.#idle.indexOf(c);
    if (i !== -1) this.#idle.splice(i, 1);
    // Room for one more: the first in line connects now.
    const next = this.#waiting.shift();
    if (next !== undefined) this.#open(next);
  }

  #open(user: ConnUser): void {
    // `onread`: each read lands in one shared buffer and goes straight to the holder (a copy
    // of what was read), without the readable stream's queue and events in between.
    let conn: PooledConn | null = null;
    const socket = connect({
      host: this.options.host,
      port: this.options.port,
      onread: { buffer: READ_BUFFER, callback: (n: number) => conn!.read(n) },
    });
    socket.setTimeout(this.options.connectTimeoutMs);
    conn = new PooledConn(this, socket, user);
    this.#all.add(conn);
  }

  /** No more idle keeping: idle connections close now, busy ones when released. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }

  /** Every connection closes now; holders see their connection close. */
  destroy(): void {
    this.#destroyed = true;
    this.close();
    const waiting = this.#waiting.splice(0);
    // Connections still connecting tell their users the same as those in line (see #onClose).
    for (const c of [...this.#all]) c.socket.destroy();
    const err = poolDestroyedError();
    for (const u of waiting) u.onConnFailed(POOL_DESTROYED, err);
  }
}
