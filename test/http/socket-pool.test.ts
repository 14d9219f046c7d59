/**
 * The fast path's upstream connection pool (src/upstream/socket-pool.ts) against a real TCP
 * server: the connection limit and the line behind it, reuse, and every way an idle connection
 * must go (the upstream closes it, writes to it unasked, or it idles too long).
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SocketPool, type ConnUser, type PooledConn } from '../../src/upstream/index.js';
import { freePort } from '../../src/lab/processes.js';
import { waitFor } from '../helpers/wait.js';

/** A pool user that records what it is told. */
class User implements ConnUser {
  conn: PooledConn | null = null;
  failed: string | null = null;
  data = '';
  ended = false;
  closed = false;
  readonly got: Promise<PooledConn>;
  #resolve!: (c: PooledConn) => void;
  readonly failedP: Promise<string>;
  #fail!: (code: string) => void;
  constructor() {
    this.got = new Promise((r) => (this.#resolve = r));
    this.failedP = new Promise((r) => (this.#fail = r));
  }
  onConn(conn: PooledConn): void {
    this.conn = conn;
    this.#resolve(conn);
  }
  onConnFailed(code: string): void {
    this.failed = code;
    this.#fail(code);
  }
  onConnData(chunk: Buffer): void {
    this.data += chunk.toString('latin1');
  }
  onConnEnd(): void {
    this.ended = true;
  }
  onConnClose(): void {
    this.closed = true;
  }
  onConnTimeout(): void {}
}

describe('upstream socket pool', () => {
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];

  before(async () => {
    server = createServer((s) => {
      accepted.push(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const pool = (o: Partial<ConstructorParameters<typeof SocketPool>[0]> = {}): SocketPool =>
    new SocketPool({
      host: '127.0.0.1',
      port,
      connections: 2,
      connectTimeoutMs: 2000,
      timeoutMs: 5000,
      idleTimeoutMs: 60_000,
      ...o,
    });

  it('opens at most `connections`, queues the rest and lends a released connection to the first in line', async () => {
    const p = pool();
    const [a, b, c] = [new User(), new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    p.acquire(c);
    const [ca, cb] = await Promise.all([a.got, b.got]);
    assert.equal(p.size, 2);
    assert.equal(p.waiting, 1);
    assert.equal(c.conn, null);
    p.release(ca, true);
    const cc = await c.got;
    assert.equal(cc, ca, 'the released connection, not a new one');
    assert.equal(cc.served, 1);
    assert.equal(p.size, 2);
    p.release(cb, true);
    p.release(cc, true);
    assert.equal(p.idle, 2);
    p.destroy();
    await waitFor('connections closed', () => p.size === 0);
  });

  it('closes a connection released unclean, and lets the next in line connect', async () => {
    const p = pool({ connections: 1 });
    const [a, b] = [new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    const ca = await a.got;
    p.release(ca, false);
    const cb = await b.got;
    assert.notEqual(cb, ca);
    assert.equal(cb.served, 0);
    assert.ok(ca.socket.destroyed);
    p.destroy();
  });

  it('drops an idle connection the upstream closes or writes to unasked', async () => {
    const p = pool();
    const [a, b] = [new User(), new User()];
    const before = accepted.length;
    p.acquire(a);
    p.acquire(b);
    const [ca, cb] = await Promise.all([a.got, b.got]);
    await waitFor('both accepted', () => accepted.length === before + 2);
    p.release(ca, true);
    p.release(cb, true);
    assert.equal(p.idle, 2);
    const [sa, sb] = accepted.slice(before);
    sa!.end();
    sb!.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    await waitFor('both dropped', () => p.size === 0 && p.idle === 0);
    // The next user gets a fresh connection.
    const c = new User();
    p.acquire(c);
    const cc = await c.got;
    assert.equal(cc.served, 0);
    p.destroy();
  });

  it('closes a connection idle for idleTimeoutMs, not at a lent one’s silence limit', async () => {
    // The silence limit of a lent connection (a minute) is not what closes an idle one.
    const p = pool({ idleTimeoutMs: 150, timeoutMs: 60_000 });
    const a = new User();
    p.acquire(a);
    const ca = await a.got;
    p.release(ca, true);
    await waitFor('the idle connection closed', () => ca.socket.destroyed && p.size === 0, 10_000);
    p.destroy();
  });

  it('reports a refused connect with its code, and a cancelled wait gets nothing', async () => {
    const dead = new SocketPool({
      host: '127.0.0.1',
      port: await freePort(),
      connections: 1,
      connectTimeoutMs: 2000,
      timeoutMs: 1000,
      idleTimeoutMs: 1000,
    });
    const u = new User();
    dead.acquire(u);
    assert.equal(await u.failedP, 'ECONNREFUSED');
    dead.destroy();

    const p = pool({ connections: 1 });
    const [a, b] = [new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    const ca = await a.got;
    p.cancel(b);
    assert.equal(p.waiting, 0);
    p.release(ca, true);
    assert.equal(b.conn, null);
    assert.equal(p.idle, 1);
    p.destroy();
  });

  it('after close(), idle connections go at once and released ones are not kept', async () => {
    const p = pool();
    const [a, b] = [new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    const [ca, cb] = await Promise.all([a.got, b.got]);
    p.release(ca, true);
    p.close();
    assert.ok(ca.socket.destroyed);
    p.release(cb, true);
    assert.ok(cb.socket.destroyed);
    await waitFor('all closed', () => p.size === 0);
  });
});
