import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeProxyHeader, parseProxyHeader, MAX_PROXY_HEADER_BYTES } from '../../src/listeners/index.js';

describe('PROXY protocol parser', () => {
  it('parses v1 TCP4, TCP6 and UNKNOWN and reports what it consumed', () => {
    const buf = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n');
    const r = parseProxyHeader(buf);
    assert.equal(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.deepEqual(r.header.source, { address: '192.0.2.1', port: 56324 });
    assert.deepEqual(r.header.destination, { address: '198.51.100.2', port: 443 });
    assert.equal(buf.subarray(r.consumed).toString(), 'GET / HTTP/1.1\r\n');
    const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n'));
    assert.equal(six.kind === 'ok' && six.header.family, 'tcp6');
    const unknown = parseProxyHeader(Buffer.from('PROXY UNKNOWN whatever\r\n'));
    assert.equal(unknown.kind === 'ok' && unknown.header.source, null);
  });

  it('parses v2 PROXY and LOCAL', () => {
    const v2 = encodeProxyHeader(
      2,
      { address: '203.0.113.9', port: 1234 },
      { address: '10.1.2.3', port: 8080 },
    );
    const r = parseProxyHeader(Buffer.concat([v2, Buffer.from('rest')]));
    assert.equal(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.equal(r.consumed, v2.length);
    assert.deepEqual(r.header.source, { address: '203.0.113.9', port: 1234 });
    const local = Buffer.from(v2.subarray(0, 16));
    local[12] = 0x20;
    local.writeUInt16BE(0, 14);
    const l = parseProxyHeader(local);
    assert.equal(l.kind === 'ok' && l.header.command, 'local');
  });

  it('waits for more bytes on a prefix and refuses junk at once', () => {
    assert.equal(parseProxyHeader(Buffer.from('PROX')).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 70000 1\r\n')).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3 5.6.7.8 1 1\r\n')).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)).kind, 'invalid');
    const huge = Buffer.from(
      encodeProxyHeader(2, { address: '1.2.3.4', port: 1 }, { address: '1.2.3.4', port: 1 }),
    );
    huge.writeUInt16BE(60000, 14);
    assert.equal(parseProxyHeader(huge).kind, 'invalid');
  });

  it('round-trips any address through encode/parse, at any split point (fuzz)', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    fc.assert(
      fc.property(
        fc.constantFrom<1 | 2>(1, 2),
        v4,
        v4,
        fc.nat(65535),
        fc.nat(65535),
        fc.nat(200),
        (ver, s, d, sp, dp, cut) => {
          const h = encodeProxyHeader(ver, { address: s, port: sp }, { address: d, port: dp });
          const at = Math.min(cut, h.length - 1);
          assert.equal(parseProxyHeader(h.subarray(0, at)).kind, 'incomplete');
          const r = parseProxyHeader(h);
          assert.ok(
            r.kind === 'ok' &&
              r.header.source?.address === s &&
              r.header.source.port === sp &&
              r.consumed === h.length,
          );
        },
      ),
    );
  });

  it('never throws and never consumes more than it was given or the bound (fuzz)', () => {
    const prefix = fc.constantFrom(
      Buffer.from('PROXY '),
      encodeProxyHeader(2, { address: '1.1.1.1', port: 1 }, { address: '2.2.2.2', port: 2 }).subarray(0, 13),
      Buffer.alloc(0),
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 300 }), (p, tail) => {
        const buf = Buffer.concat([p, Buffer.from(tail)]);
        const r = parseProxyHeader(buf);
        if (r.kind === 'ok') assert.ok(r.consumed <= buf.length && r.consumed <= MAX_PROXY_HEADER_BYTES);
      }),
      { numRuns: 2000 },
    );
  });
});
