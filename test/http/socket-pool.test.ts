/**
 * The fast path's upstream connection pool (src/upstream/socket-pool.ts) against a real TCP
 * server: the connection limit and the line behind it, reuse, and every way an idle connection
 * must go (the upstream closes it, writes to it unasked, or it idles too long); then a connect
 * that hangs, to the pool alone and through a gateway (what the client is answered, what is
 * counted against the upstream, that nothing is left open), and one the gateway itself ends
 * (a zone map change, its close), which is never the upstream's failure.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import {
  CONNECT_TIMEOUT,
  SocketPool,
  type ConnUser,
  type Endpoint,
  type PooledConn,
} from '../../src/upstream/index.js';
import { freePort } from '../../src/lab/processes.js';
import { waitFor, within } from '../helpers/wait.js';
import type { MutableDoc } from '../helpers/maps.js';
import { busOf, startHarness, type Harness } from './harness.js';

/** A pool user that records what it is told. */
class User implements ConnUser {
  conn: PooledConn | null = null;
  failed: string | null = null;
  error: Error | null = null;
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
  onConnFailed(code: string, err: Error): void {
    this.failed = code;
    this.error = err;
    this.#fail(code);
  }
  onConnData(chunk: Buffer): void {
    this.data += chunk.toString('latin1');
  }
  onConnEnd(): void {
    this.ended = true;
  }
  closeError: Error | null = null;
  onConnClose(err: Error | null): void {
    this.closed = true;
    this.closeError = err;
  }
  onConnTimeout(): void {}
}

type PoolOptions = Partial<ConstructorParameters<typeof SocketPool>[0]>;

/** A pool to 127.0.0.1:`port`: two connections, timeouts the test may override. */
function poolTo(port: number, o: PoolOptions = {}): SocketPool {
  return new SocketPool({
    host: '127.0.0.1',
    port,
    connections: 2,
    connectTimeoutMs: 2000,
    timeoutMs: 5000,
    idleTimeoutMs: 60_000,
    ...o,
  });
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

  const pool = (o: PoolOptions = {}): SocketPool => poolTo(port, o);

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

  it('tells a holder its connection was closed by destroy(), and opens nothing after it', async () => {
    const p = pool();
    const a = new User();
    p.acquire(a);
    await a.got;
    const acceptedBefore = accepted.length;
    p.destroy();
    await waitFor('the holder told', () => a.closed);
    // The gateway closed it (shutdown), not the upstream: not UND_ERR_SOCKET, which counts as a reset.
    assert.equal((a.closeError as { code?: string } | null)?.code, 'UND_ERR_DESTROYED');
    assert.match(a.closeError?.message ?? '', /gateway closed/);
    // A resend or a late request after the shutdown: refused at once, no new connection.
    const late = new User();
    p.acquire(late);
    assert.equal(late.failed, 'UND_ERR_DESTROYED');
    assert.equal(p.size, 0);
    assert.equal(accepted.length, acceptedBefore);
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

/**
 * A loopback port where a TCP connect hangs. Its listener (backlog 1) lives in a worker thread
 * whose event loop is blocked in Atomics.wait, so nothing is ever accept()ed; two connections
 * fill the accept queue (Linux queues backlog + 1), and the kernel then drops every further SYN
 * (a full accept queue drops, SYN cookies or not): the client retransmits and waits as it would
 * for a blackholed upstream, without leaving loopback or needing root.
 */
interface HungPort {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

const NEVER_ACCEPTING = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:net');
const server = createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  // The loop never turns again until the test is done: no accept().
  Atomics.wait(new Int32Array(workerData), 0, 0);
  server.close();
});
`;

async function hungPort(): Promise<HungPort> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  // execArgv: plain JavaScript, no tsx loader in the thread.
  const worker = new Worker(NEVER_ACCEPTING, { eval: true, workerData: stop.buffer, execArgv: [] });
  worker.unref();
  const [port] = (await within('the never-accepting listener', once(worker, 'message'))) as [number];
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    await within('a connection filling the accept queue', once(s, 'connect'));
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    async close() {
      for (const s of fillers) s.destroy();
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
      await worker.terminate();
    },
  };
}

/** How a pool user's wait ended: its error code, or 'connected' (the connect did not hang). */
function outcome(u: User): Promise<string> {
  return within(
    'the pool to answer the user',
    Promise.race([u.failedP, u.got.then(() => 'connected')]),
    20_000,
  );
}

describe('upstream socket pool: a connect that hangs', () => {
  let hung: HungPort;
  before(async () => {
    hung = await hungPort();
  });
  after(async () => {
    await hung.close();
  });

  // The silence limit far beyond the test: only the connect timeout can end these waits.
  const pool = (o: PoolOptions = {}): SocketPool =>
    poolTo(hung.port, { connectTimeoutMs: 150, timeoutMs: 60_000, ...o });

  it('gives up after connectTimeoutMs with UND_ERR_CONNECT_TIMEOUT, and keeps no socket', async () => {
    // A plain connect started first, with no timeout of its own: proof the port really hangs.
    const probe = connect(hung.port, '127.0.0.1');
    probe.on('error', () => {});
    const p = pool();
    const u = new User();
    p.acquire(u);
    assert.equal(p.size, 1, 'connecting');
    // The code undici gave a connect timeout: forward.ts maps it to 504 and retries on it.
    assert.equal(await outcome(u), 'UND_ERR_CONNECT_TIMEOUT');
    assert.match(u.error!.message, /^connect timed out after 150 ms$/);
    assert.equal(u.conn, null);
    // Told only once the socket closed: nothing pending, nothing idle, nothing in line.
    assert.deepEqual([p.size, p.idle, p.waiting], [0, 0, 0]);
    assert.ok(probe.connecting, 'the probe’s connect still hangs');
    probe.destroy();
    p.destroy();
  });

  it('a user in line behind a hanging connect gets a fresh attempt and the same timeout', async () => {
    const p = pool({ connections: 1 });
    const [a, b] = [new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    assert.deepEqual([p.size, p.waiting], [1, 1]);
    assert.equal(await outcome(a), CONNECT_TIMEOUT);
    assert.equal(await outcome(b), CONNECT_TIMEOUT);
    assert.deepEqual([p.size, p.idle, p.waiting], [0, 0, 0]);
    p.destroy();
  });

  it('a user that gave up hears nothing, and its hanging connect still closes at the timeout', async () => {
    const p = pool({ connections: 1 });
    const [a, b] = [new User(), new User()];
    p.acquire(a);
    p.acquire(b);
    p.cancel(b);
    p.cancel(a);
    assert.deepEqual([p.size, p.waiting], [1, 0], 'the connect goes on for a next user');
    await waitFor('the abandoned connect to time out and close', () => p.size === 0);
    assert.deepEqual([a.failed, b.failed, a.conn, b.conn], [null, null, null, null]);
    assert.equal(p.idle, 0);
    p.destroy();
  });

  it('destroy() during a hanging connect tells its user, as the one in line, that the gateway closed the pool', async () => {
    const p = pool({ connections: 1, connectTimeoutMs: 60_000 });
    const [connecting, queued] = [new User(), new User()];
    p.acquire(connecting);
    p.acquire(queued);
    assert.deepEqual([p.size, p.waiting], [1, 1]);
    p.destroy();
    // The gateway cut that connect, not the upstream: not UND_ERR_SOCKET (an upstream failure
    // to forward.ts and the metrics), but what the user in line is told.
    assert.equal(await outcome(queued), 'UND_ERR_DESTROYED');
    assert.equal(await outcome(connecting), 'UND_ERR_DESTROYED');
    assert.equal(connecting.error!.message, queued.error!.message);
    assert.match(connecting.error!.message, /gateway closed/);
    assert.doesNotMatch(connecting.error!.message, /upstream closed/);
    assert.equal((connecting.error as Error & { code?: string }).code, 'UND_ERR_DESTROYED');
    assert.deepEqual([connecting.conn, queued.conn], [null, null]);
    assert.deepEqual([p.size, p.idle, p.waiting], [0, 0, 0]);
  });
});

describe('a request routed to an upstream whose connect hangs', () => {
  let hung: HungPort;
  let h: Harness;
  let live: string;
  const errors: string[] = [];
  const ejections: string[] = [];
  const retries: string[] = [];
  /** What the access log and metrics get for each request: status and reason. */
  const done: string[] = [];

  before(async () => {
    hung = await hungPort();
    h = await startHarness({
      config: {
        // The response timeout is far beyond the test: only a connect timeout can be the 504.
        timeouts: { upstreamConnectTimeoutMs: 150, upstreamResponseTimeoutMs: 60_000, shutdownGraceMs: 100 },
        upstream: {
          ejection: { consecutiveFailures: 2, ejectMs: 60_000 },
          healthCheck: { enabled: false },
        },
      },
      events: busOf((b) => {
        b.upstreamError.subscribe((e) => errors.push(`${e.upstream} ${e.code}`));
        b.ejection.subscribe((e) => ejections.push(`${e.upstream} ${e.reason}`));
        b.retry.subscribe((e) => retries.push(`${e.from}->${e.to} ${e.code}`));
        b.requestDone.subscribe((e) => done.push(`${e.status} ${e.reason}`));
      }),
      change: (d) => {
        // uid 25 → rz02: only the hanging upstream. uid 15 → rz01 (green: 0, so always blue):
        // the hanging one, then a live one.
        d.zones.rz02!.upstreams!.http = { blue: [hung.address], green: [hung.address] };
        live = d.zones.rz01!.upstreams!.http!.blue![0]!;
        d.zones.rz01!.upstreams!.http = { blue: [hung.address, live], green: [] };
      },
    });
  });
  after(async () => {
    await h.close();
    await hung.close();
  });

  const endpoint = () => [...h.gw.http.ctx.registry.endpoints].find((e) => e.address === hung.address)!;

  /** The hanging endpoint's raw pool holds nothing: no connect pending, no socket, no one in line. */
  function nothingLeft(): void {
    const c = endpoint().conns;
    assert.deepEqual([c.size, c.idle, c.waiting], [0, 0, 0]);
  }

  function assertTimeoutAnswer(status: number, reason: unknown, body: string): void {
    assert.equal(status, 504, body);
    assert.equal(reason, 'ZG_ERR_UPSTREAM_TIMEOUT');
    const json = JSON.parse(body) as { error?: string; reason?: string };
    assert.equal(json.error, 'ZG_ERR_UPSTREAM_TIMEOUT');
    assert.equal(json.reason, 'the upstream of this zone did not answer in time');
  }

  it('HTTP/1.1 (the fast path): 504 ZG_ERR_UPSTREAM_TIMEOUT, counted against the upstream until ejected', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await within('the answer', request(`${h.url}/x`, { headers: { 'x-ldc-uid': '25' } }), 20_000);
      assertTimeoutAnswer(r.statusCode, r.headers['x-ldc-reason'], await r.body.text());
      nothingLeft();
    }
    // Published as a connect timeout (not a response timeout), and two in a row eject it.
    assert.deepEqual(errors, [`${hung.address} ${CONNECT_TIMEOUT}`, `${hung.address} ${CONNECT_TIMEOUT}`]);
    assert.deepEqual(ejections, [`${hung.address} ${CONNECT_TIMEOUT}`]);
    assert.ok(endpoint().ejectedUntil > Date.now());
    // Nothing else to try in rz02: no retry.
    assert.deepEqual(retries, []);
    await waitFor('both requests reported', () => done.length === 2);
    assert.deepEqual(done, ['504 ZG_ERR_UPSTREAM_TIMEOUT', '504 ZG_ERR_UPSTREAM_TIMEOUT']);
  });

  it('HTTP/1.0 (Node’s path, same raw pool): the same answer', async () => {
    const before = errors.length;
    const s = connect(Number(new URL(h.url).port), '127.0.0.1');
    s.on('error', () => {});
    let raw = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (raw += d));
    s.write('GET /x HTTP/1.0\r\nHost: gw\r\nx-ldc-uid: 25\r\n\r\n');
    await within('the gateway to answer and close', once(s, 'end'), 20_000);
    s.destroy();
    const end = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, end).split('\r\n');
    const reason = head
      .find((l) => l.toLowerCase().startsWith('x-ldc-reason:'))
      ?.slice(13)
      .trim();
    assertTimeoutAnswer(Number(head[0]!.split(' ')[1]), reason, raw.slice(end + 4));
    assert.deepEqual(errors.slice(before), [`${hung.address} ${CONNECT_TIMEOUT}`]);
    nothingLeft();
  });

  it('a GET whose connect hung is retried once on the zone’s live endpoint', async () => {
    // Back in rotation, as when its ejection ends.
    endpoint().ejectedUntil = 0;
    endpoint().failures = 0;
    for (let i = 0; i < 4 && retries.length === 0; i++) {
      const r = await within('the answer', request(`${h.url}/x`, { headers: { 'x-ldc-uid': '15' } }), 20_000);
      assert.equal(r.statusCode, 200);
      assert.equal((JSON.parse(await r.body.text()) as { zone?: string }).zone, 'rz01');
    }
    assert.deepEqual(retries, [`${hung.address}->${live} ${CONNECT_TIMEOUT}`]);
    nothingLeft();
  });
});

/**
 * The gateway itself ending a hung connect's pool: a zone map change that drops the upstream, or
 * the gateway's close. Neither is the upstream's failure. A connect that hangs for a minute keeps
 * the request in flight for as long as each test needs, with no timing involved.
 */
describe('a hung connect when the gateway drops or closes the upstream’s pool', () => {
  let hung: HungPort;
  before(async () => {
    hung = await hungPort();
  });
  after(async () => {
    await hung.close();
  });

  type HttpUpstreams = NonNullable<NonNullable<MutableDoc['zones'][string]>['upstreams']>['http'];

  interface Watched {
    readonly h: Harness;
    /** `error|ejection upstream code` for every upstream error and ejection published. */
    readonly counted: string[];
    /** `status reason` of every request reported done (access log, metrics). */
    readonly done: string[];
    /** rz02's upstreams before the test routed it to the hanging one. */
    readonly rz02: HttpUpstreams;
    readonly endpoint: Endpoint;
  }

  async function gateway(connections: number): Promise<Watched> {
    const counted: string[] = [];
    const done: string[] = [];
    let rz02: HttpUpstreams;
    const h = await startHarness({
      config: {
        timeouts: {
          upstreamConnectTimeoutMs: 60_000,
          upstreamResponseTimeoutMs: 60_000,
          shutdownGraceMs: 100,
        },
        upstream: {
          connectionsPerEndpoint: connections,
          // One failure ejects: any miscount shows.
          ejection: { consecutiveFailures: 1, ejectMs: 60_000 },
          healthCheck: { enabled: false },
        },
      },
      events: busOf((b) => {
        b.upstreamError.subscribe((e) => counted.push(`error ${e.upstream} ${e.code}`));
        b.ejection.subscribe((e) => counted.push(`ejection ${e.upstream} ${e.reason}`));
        b.requestDone.subscribe((e) => done.push(`${e.status} ${e.reason}`));
      }),
      change: (d) => {
        // uid 25 → rz02: only the hanging upstream.
        rz02 = structuredClone(d.zones.rz02!.upstreams!.http);
        d.zones.rz02!.upstreams!.http = { blue: [hung.address], green: [hung.address] };
      },
    });
    // Taken now: a map change drops it from the registry.
    const endpoint = [...h.gw.http.ctx.registry.endpoints].find((e) => e.address === hung.address)!;
    return { h, counted, done, rz02: rz02!, endpoint };
  }

  /** A request to rz02 over the fast path: its status and body, or the client-side error code. */
  function send(h: Harness): Promise<string> {
    return request(`${h.url}/x`, { headers: { 'x-ldc-uid': '25' } }).then(
      async (r) => `${r.statusCode} ${await r.body.text()}`,
      (e: { code?: string }) => e.code ?? 'error',
    );
  }

  it('a zone map change dropping the upstream neither cuts its connect nor counts anything against it', async () => {
    const g = await gateway(2);
    const ep = g.endpoint;
    // A raw client, to end its wait exactly when the test says.
    const client = connect(Number(new URL(g.h.url).port), '127.0.0.1');
    client.on('error', () => {});
    try {
      client.write('GET /x HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 25\r\n\r\n');
      await waitFor('the connect to start', () => ep.conns.size === 1);
      await g.h.applyMap((d) => {
        d.zones.rz02!.upstreams!.http = g.rz02;
      });
      assert.ok(![...g.h.gw.http.ctx.registry.endpoints].includes(ep), 'dropped by the map change');
      assert.match(await within('rz02 answered by its new upstream', send(g.h), 20_000), /^200 /);
      // A dropped pool is only closed (src/upstream/registry.ts): the connect goes on, nobody told.
      assert.deepEqual([ep.conns.size, ep.conns.waiting], [1, 0]);
      assert.deepEqual(g.counted, []);
      // The client gives up (a reset: after a FIN alone the gateway would still answer); then the
      // dropped pool is destroyed (nothing else would before the connect timeout).
      client.resetAndDestroy();
      await waitFor('the gateway to see the client go', () => g.done.includes('499 client-closed'));
      ep.conns.destroy();
      await waitFor('the hung connect to close', () => ep.conns.size === 0);
      assert.deepEqual(g.counted, []);
      assert.deepEqual([ep.failures, ep.ejectedUntil], [0, 0]);
    } finally {
      client.destroy();
      ep.conns.destroy();
      await g.h.close();
    }
  });

  it('closing the gateway during the connect never blames the upstream’s socket (UND_ERR_SOCKET)', async () => {
    const g = await gateway(2);
    const ep = g.endpoint;
    const hanging = send(g.h);
    await waitFor('the connect to start', () => ep.conns.size === 1);
    await g.h.close();
    // Still being answered at the shutdown deadline: the client's connection is cut.
    assert.equal(await within('the client to see the cut', hanging), 'UND_ERR_SOCKET');
    await waitFor('the hung connect to close', () => ep.conns.size === 0);
    // The gateway cuts its clients, then destroys the pool, in one go; the pool's socket closes
    // first (libuv runs close callbacks last-closed first), so the connect's user is still
    // there to be told. It was told "the upstream closed the connection" (UND_ERR_SOCKET,
    // counted as an upstream reset and an ejection); now UND_ERR_DESTROYED, which the HTTP path
    // answers as the gateway's shutdown and never counts against the upstream.
    assert.deepEqual(g.counted, []);
    assert.deepEqual([ep.failures, ep.ejectedUntil], [0, 0]);
  });

  it('closing the gateway during a connect, with a request in line, counts nothing against the upstream', async () => {
    const g = await gateway(1);
    const ep = g.endpoint;
    const hanging = [send(g.h), send(g.h)];
    await waitFor('one connecting, one in line', () => ep.conns.size === 1 && ep.conns.waiting === 1);
    await g.h.close();
    await within('both clients to see the cut', Promise.all(hanging));
    await waitFor('the hung connect to close', () => ep.conns.size === 0);
    assert.deepEqual(g.counted, []);
    assert.deepEqual([ep.failures, ep.ejectedUntil], [0, 0]);
  });
});
