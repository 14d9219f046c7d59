/**
 * Keep-alive raw TCP connections to one upstream endpoint for the fast path: at most
 * `connections` at once (as the endpoint's undici pool), idle ones closed after
 * `idleTimeoutMs`, connects bounded by `connectTimeoutMs`. A connection is handed to one
 * exchange at a time and comes back only when its response was read to its end.
 */
import { connect, type Socket } from 'node:net';
import type { Endpoint } from '../../upstream/index.js';

/** Whoever waits for a connection. */
export interface PoolUser {
  upstreamReady(socket: Socket, reused: boolean): void;
  upstreamFailed(err: Error & { code?: string }): void;
}

export interface RawPoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

const kPool = Symbol('zonegate.fastPool');
interface Pooled {
  [kPool]?: RawPool;
}

function noop(): void {}

function onIdleGone(this: Socket): void {
  (this as Socket & Pooled)[kPool]?.forget(this);
}

function onIdleTimeout(this: Socket): void {
  this.destroy();
}

function onConnectTimeout(this: Socket): void {
  const err = new Error('upstream connect timed out') as Error & { code: string };
  err.code = 'UND_ERR_CONNECT_TIMEOUT';
  this.destroy(err);
}

class Connecting {
  readonly pool: RawPool;
  readonly socket: Socket;
  readonly user: PoolUser;
  constructor(pool: RawPool, socket: Socket, user: PoolUser) {
    this.pool = pool;
    this.socket = socket;
    this.user = user;
    socket.once('connect', this.connected);
    socket.once('error', this.failed);
  }
  readonly connected = (): void => {
    const s = this.socket;
    s.removeListener('error', this.failed);
    s.removeListener('timeout', onConnectTimeout);
    s.setTimeout(0);
    this.user.upstreamReady(s, false);
  };
  readonly failed = (err: Error): void => {
    this.pool.closed();
    this.user.upstreamFailed(err);
  };
}

export class RawPool {
  readonly endpoint: Endpoint;
  readonly #opts: RawPoolOptions;
  readonly #idle: Socket[] = [];
  readonly #waiting: PoolUser[] = [];
  /** Open connections, idle or busy or connecting. */
  #open = 0;
  #closed = false;

  constructor(endpoint: Endpoint, opts: RawPoolOptions) {
    this.endpoint = endpoint;
    this.#opts = opts;
  }

  acquire(user: PoolUser): void {
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#unwatch(idle);
      user.upstreamReady(idle, true);
      return;
    }
    if (this.#open < this.#opts.connections) this.#connect(user);
    else this.#waiting.push(user);
  }

  /** Withdraw a user still waiting (its client went away). */
  cancel(user: PoolUser): void {
    const i = this.#waiting.indexOf(user);
    if (i >= 0) this.#waiting.splice(i, 1);
  }

  #connect(user: PoolUser): void {
    this.#open++;
    const s = connect({ host: this.endpoint.host, port: this.endpoint.port, noDelay: true });
    // Errors are seen through 'close' by whoever holds the connection; never unhandled.
    s.on('error', noop);
    s.setTimeout(this.#opts.connectTimeoutMs, onConnectTimeout);
    new Connecting(this, s, user);
  }

  /** A connection's exchange is over and the connection can carry another request. */
  release(socket: Socket): void {
    const next = this.#waiting.shift();
    if (next !== undefined) {
      next.upstreamReady(socket, true);
      return;
    }
    if (this.#closed || socket.destroyed) {
      this.discard(socket);
      return;
    }
    (socket as Socket & Pooled)[kPool] = this;
    socket.on('close', onIdleGone);
    socket.on('end', onIdleGone);
    socket.on('data', onIdleGone);
    socket.setTimeout(this.#opts.idleTimeoutMs, onIdleTimeout);
    this.#idle.push(socket);
  }

  /** A busy connection that cannot be reused: close it and let a waiter open another. */
  discard(socket: Socket): void {
    socket.destroy();
    this.closed();
  }

  /** An open connection went away (failed connect or discarded). */
  closed(): void {
    this.#open--;
    const next = this.#waiting.shift();
    if (next !== undefined && !this.#closed) this.#connect(next);
  }

  /** An idle connection closed, or the upstream spoke while nothing was asked: drop it. */
  forget(socket: Socket): void {
    const i = this.#idle.indexOf(socket);
    if (i < 0) return;
    this.#idle.splice(i, 1);
    this.#unwatch(socket);
    socket.destroy();
    this.closed();
  }

  #unwatch(socket: Socket): void {
    socket.removeListener('close', onIdleGone);
    socket.removeListener('end', onIdleGone);
    socket.removeListener('data', onIdleGone);
    socket.removeListener('timeout', onIdleTimeout);
    socket.setTimeout(0);
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.destroy();
  }
}
