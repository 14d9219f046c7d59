import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { RequestDoneEvent } from '../../src/core/events.js';
import {
  MAX_ACCESS_PATH_CHARS,
  accessPath,
  createAccessLog,
  createLogger,
  subscribeLog,
} from '../../src/core/logger.js';
import { curl } from '../helpers/http-client.js';
import { busOf, startHarness } from '../http/harness.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const entry = (status: number): RequestDoneEvent => ({
  protocol: 'http1',
  method: 'GET',
  target: '/orders',
  status,
  zone: 'rz00',
  colour: 'blue',
  reason: 'cookie',
  upstream: '127.0.0.1:9000',
  durationMs: 1.5,
  upstreamMs: 1.1,
  trace: null,
});

describe('logger', () => {
  it('writes JSON and never writes cookie or authorization values', () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: 'info' }, stream);
    log.info(
      { req: { headers: { cookie: 'ldc=secret-cookie', authorization: 'Bearer tok', host: 'a' } } },
      'x',
    );
    log.info({ headers: { 'set-cookie': 'ldc=secret-cookie' } }, 'y');
    const text = JSON.stringify(lines());
    assert.doesNotMatch(text, /secret-cookie|Bearer tok/);
    assert.match(text, /"host":"a"/);
    assert.equal(lines().length, 2);
  });

  it('samples successful requests but always logs failures', () => {
    const { stream, lines } = capture();
    let n = 0;
    // Deterministic "random": 0, 0.25, 0.5, 0.75, 0, ...
    const access = createAccessLog(stream, 0.5, () => (n++ % 4) / 4);
    for (let i = 0; i < 8; i++) access.http(entry(200));
    for (let i = 0; i < 3; i++) access.http(entry(502));
    const out = lines();
    assert.equal(out.filter((l) => l.status === 200).length, 4);
    assert.equal(out.filter((l) => l.status === 502).length, 3);
    assert.equal(out[0]?.kind, 'access');
    assert.equal(out[0]?.zone, 'rz00');
  });

  it('keeps only the path of a request target, bounded', () => {
    assert.equal(accessPath('/orders/42?token=s3cret&x=1'), '/orders/42');
    assert.equal(accessPath('/a#frag?x'), '/a');
    assert.equal(accessPath('/plain'), '/plain');
    assert.equal(accessPath('http://user:pw@host:8080/p/q?t=1'), '/p/q');
    assert.equal(accessPath('http://host'), '/');
    assert.equal(accessPath('*'), '*');
    const long = accessPath(`/${'a'.repeat(5000)}?k=v`);
    assert.equal(long.length, MAX_ACCESS_PATH_CHARS + 1);
    assert.ok(long.endsWith('…'));
  });

  it('writes method, path without query, and upstream for requests through a real gateway', async () => {
    const { stream, lines } = capture();
    const accessLog = createAccessLog(stream, 1);
    const logger = createLogger({ level: 'info' }, stream);
    const h = await startHarness({ events: busOf((b) => subscribeLog(b, logger, accessLog)) });
    try {
      // uid 10000005: shard 05 → rz00, in this gateway's IDC: served by rz00's own upstream.
      const ok = await curl(['-H', 'x-ldc-uid: 10000005', `${h.url}/orders/42?token=s3cret`]);
      assert.equal(ok.status, 200);
      const posted = await curl([
        '-X',
        'POST',
        '-d',
        'x',
        '-H',
        'x-ldc-uid: 10000005',
        `${h.url}/${'p'.repeat(600)}`,
      ]);
      assert.equal(posted.status, 200);
      const out = lines().filter((l) => l.kind === 'access');
      assert.equal(out.length, 2);
      const upstream = h.ups.addresses.get(`rz00/${ok.headers['x-ldc-colour'] ?? ''}`);
      assert.ok(upstream !== undefined);
      assert.deepEqual(
        [out[0]?.method, out[0]?.path, out[0]?.upstream, out[0]?.zone, out[0]?.status],
        ['GET', '/orders/42', upstream, 'rz00', 200],
      );
      assert.equal(out[1]?.method, 'POST');
      assert.equal(out[1]?.path, `/${'p'.repeat(MAX_ACCESS_PATH_CHARS - 1)}…`);
      assert.doesNotMatch(JSON.stringify(out), /s3cret|token=/);
    } finally {
      await h.close();
    }
  });

  it('samples access lines of real requests too', async () => {
    const { stream, lines } = capture();
    const h = await startHarness({
      events: busOf((b) =>
        subscribeLog(b, createLogger({ level: 'info' }, stream), createAccessLog(stream, 0)),
      ),
    });
    try {
      assert.equal((await curl([`${h.url}/a`, `${h.url}/b`])).exitCode, 0);
      assert.equal(lines().length, 0, 'rate 0: no line for a 2xx');
    } finally {
      await h.close();
    }
  });

  it('refuses a sample rate outside 0..1', () => {
    assert.throws(() => createAccessLog(process.stdout, 1.5), /accessSampleRate/);
  });
});
