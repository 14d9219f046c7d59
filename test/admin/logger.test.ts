import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createAccessLog, createLogger, type HttpAccessEntry } from '../../src/core/logger.js';

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

const entry = (status: number): HttpAccessEntry => ({
  protocol: 'http',
  method: 'GET',
  path: '/orders',
  status,
  zone: 'rz00',
  colour: 'blue',
  reason: 'cookie',
  upstream: '127.0.0.1:9000',
  durationMs: 1.5,
  upstreamMs: 1.1,
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
    const access = createAccessLog(createLogger({ level: 'info' }, stream), 0.5, () => (n++ % 4) / 4);
    for (let i = 0; i < 8; i++) access.http(entry(200));
    for (let i = 0; i < 3; i++) access.http(entry(502));
    const out = lines();
    assert.equal(out.filter((l) => l.status === 200).length, 4);
    assert.equal(out.filter((l) => l.status === 502).length, 3);
    assert.equal(out[0]?.kind, 'access');
    assert.equal(out[0]?.zone, 'rz00');
  });

  it('refuses a sample rate outside 0..1', () => {
    assert.throws(() => createAccessLog(createLogger({ level: 'silent' }), 1.5), /accessSampleRate/);
  });
});
