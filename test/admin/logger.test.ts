import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { RequestDoneEvent } from '../../src/core/events.js';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BufferedLog,
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

  it('encodes each access line exactly as a template of JSON.stringify values would, odd values too', () => {
    // The line as the access log built it before it was encoded piece by piece into the batch.
    const reference = (e: RequestDoneEvent): string => {
      const q = JSON.stringify;
      const ms3 = (v: number): number => Math.round(v * 1000) / 1000;
      let line = `"protocol":"${e.protocol === 'http1' ? 'http' : e.protocol === 'http2' ? 'h2' : 'ws'}"`;
      const t = e.trace;
      if (t !== null) line += `,"requestId":${q(t.id)},"client":${q(t.clientAddress)},"host":${q(t.host)}`;
      line += `,"method":${q(e.method)},"path":${q(accessPath(e.target))},"status":${e.status}`;
      if (t !== null) line += `,"bytesIn":${t.bytesIn},"bytesOut":${t.bytesOut}`;
      line += `,"zone":${q(e.zone)},"colour":${q(e.colour)},"reason":${q(e.reason)},"upstream":${q(e.upstream)}`;
      if (e.upstreamMs >= 0) line += `,"upstreamMs":${ms3(e.upstreamMs)}`;
      line += `,"durationMs":${ms3(e.durationMs)}`;
      if (t !== null) {
        line += `,"traceId":${q(t.trace.traceId)},"spanId":${q(t.trace.spanId)}`;
        if (t.trace.parentSpanId !== null) line += `,"parentSpanId":${q(t.trace.parentSpanId)}`;
        if (t.detail !== '') line += `,"detail":${q(t.detail)}`;
      }
      return `${line},"msg":"http"}`;
    };
    const odd = [
      '',
      'plain',
      'quo"te',
      'back\\slash',
      'tab\there',
      'nl\n',
      'é',
      '日本',
      '\u0000\u001f\u007f',
      '😀',
      'x'.repeat(300),
    ];
    const numbers = [
      0,
      0.0004,
      0.0005,
      0.001,
      0.01,
      0.1,
      0.12,
      0.125,
      1,
      1.2345,
      12.0001,
      999.9995,
      86400000.123,
      0.3 + 0.6,
    ];
    const events: RequestDoneEvent[] = [];
    for (let i = 0; i < 200; i++) {
      const pick = (k: number): string => odd[(i * 7 + k * 3) % odd.length]!;
      const num = (k: number): number => numbers[(i * 5 + k) % numbers.length]!;
      events.push({
        protocol: (['http1', 'http2', 'websocket'] as const)[i % 3]!,
        method: i % 4 === 0 ? pick(1) : 'GET',
        target: i % 5 === 0 ? `/${pick(2)}?token=x` : '/',
        status: [200, 404, 502, 0, 599][i % 5]!,
        zone: pick(3),
        colour: 'blue',
        reason: pick(4),
        upstream: i % 2 === 0 ? '127.0.0.1:9000' : pick(5),
        durationMs: num(0),
        upstreamMs: i % 3 === 0 ? -1 : num(1),
        trace:
          i % 6 === 0
            ? null
            : {
                id: pick(6),
                clientAddress: i % 2 === 0 ? '::1' : pick(7),
                host: pick(8),
                bytesIn: i * 1000,
                bytesOut: i === 7 ? Number.MAX_SAFE_INTEGER : i,
                detail: i % 4 === 1 ? pick(9) : '',
                trace: {
                  traceId: pick(10),
                  spanId: 'a'.repeat(16),
                  parentSpanId: i % 2 === 0 ? null : pick(0),
                },
              },
      });
    }
    const expected = events.map((e) => reference(e));
    const check = (text: string, how: string): void => {
      const got = text.split('\n').filter((l) => l !== '');
      assert.equal(got.length, events.length, how);
      for (let i = 0; i < got.length; i++) {
        const line = got[i]!;
        // Time and pid differ by run; the rest must be the same bytes.
        assert.match(line, /^\{"level":30,"time":"[0-9T:.Z-]+","pid":[0-9]+,"kind":"access",/, how);
        assert.equal(line.slice(line.indexOf('"protocol"')), expected[i], `${how}, line ${i}`);
        JSON.parse(line);
      }
    };
    // Into a stream (lines encoded, then decoded for it) …
    const chunks: string[] = [];
    const sink = { write: (l: string) => chunks.push(l) };
    const toStream = createAccessLog(sink, 1);
    for (const e of events) toStream.http(e);
    check(chunks.join(''), 'string sink');
    // … and straight into the batch of a log file.
    const dir = mkdtempSync(join(tmpdir(), 'zg-log-'));
    try {
      const fd = openSync(join(dir, 'access.log'), 'w');
      const batch = new BufferedLog(fd);
      const toFile = createAccessLog(batch, 1);
      for (const e of events) toFile.http(e);
      batch.flushSync();
      closeSync(fd);
      check(readFileSync(join(dir, 'access.log'), 'utf8'), 'batched file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a sample rate outside 0..1', () => {
    assert.throws(() => createAccessLog(process.stdout, 1.5), /accessSampleRate/);
  });
});
