/**
 * Hostile `x-request-id` and `traceparent` values: whatever a client sends, the id we log and
 * forward is sane and the traceparent we send is well formed; nothing throws.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSaneRequestId, requestIdFrom } from '../../src/core/request-id.js';
import { formatTraceparent, parseTraceparent, traceFrom } from '../../src/http/trace-context.js';

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** `bytes` random bytes as lowercase hex; zero bytes are common enough to hit all-zero ids. */
const hex = (bytes: number) =>
  fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .map((b) => (b.every((x) => x < 16) ? new Uint8Array(bytes) : b))
    .map((b) => Buffer.from(b).toString('hex'));

describe('hostile trace headers', () => {
  it("any x-request-id value yields a sane id: the client's when sane, a fresh UUID otherwise", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (value) => {
        const id = requestIdFrom(value);
        assert.ok(isSaneRequestId(id));
        assert.equal(id === value, isSaneRequestId(value));
      }),
    );
    for (const bad of ['', ' ', 'a b', 'a"b', "a'b", 'a\\b', 'é', 'x'.repeat(129), 'a\r\nset-cookie: x']) {
      assert.notEqual(requestIdFrom(bad), bad);
    }
  });

  it('any traceparent value yields a well-formed one; a valid one keeps its trace id and flags', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (value) => {
        assert.match(formatTraceparent(traceFrom(value)), TRACEPARENT);
      }),
    );
    fc.assert(
      fc.property(hex(16), hex(8), hex(1), (trace, parent, flags) => {
        const t = traceFrom(`00-${trace}-${parent}-${flags}`);
        const valid = /[1-9a-f]/.test(trace) && /[1-9a-f]/.test(parent);
        assert.equal(t.traceId === trace && t.parentSpanId === parent && t.flags === flags, valid);
        assert.notEqual(t.spanId, parent);
      }),
    );
  });

  it('refuses the malformed forms the W3C spec names', () => {
    const ok = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    assert.deepEqual(parseTraceparent(ok), {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    });
    for (const bad of [
      ok.toUpperCase(), // uppercase hex
      `ff${ok.slice(2)}`, // version ff
      `${ok}-extra`, // version 00 with more fields
      ok.replace('4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32)), // zero trace id
      ok.replace('00f067aa0ba902b7', '0'.repeat(16)), // zero parent id
      ok.slice(0, 54), // short
      ok.replaceAll('-', '_'),
    ]) {
      assert.equal(parseTraceparent(bad), null, bad);
    }
    // A future version may append fields after a dash.
    assert.notEqual(parseTraceparent(`01${ok.slice(2)}-what-ever`), null);
  });
});
