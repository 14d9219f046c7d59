import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRequestId, requestIdFrom } from '../../src/core/request-id.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generated request ids', () => {
  it('are version 4 UUIDs, all different, across many refills of the random pool', () => {
    const seen = new Set<string>();
    // 12 KiB of pool is 768 ids: this crosses the refill a dozen times.
    for (let i = 0; i < 10_000; i++) {
      const id = newRequestId();
      assert.match(id, V4);
      seen.add(id);
    }
    assert.equal(seen.size, 10_000);
  });

  it('use every random bit: each of the 122 is 0 in some ids and 1 in others', () => {
    const hex = Array.from({ length: 2000 }, () => newRequestId().replaceAll('-', ''));
    for (let bit = 0; bit < 128; bit++) {
      const nibble = bit >> 2;
      const mask = 8 >> (bit & 3);
      // The version nibble (12) and the variant's two top bits (16) are fixed by RFC 9562.
      if (nibble === 12 || (nibble === 16 && mask >= 4)) continue;
      const ones = hex.filter((h) => (parseInt(h[nibble]!, 16) & mask) !== 0).length;
      assert.ok(ones > 0 && ones < hex.length, `bit ${bit} is random`);
    }
  });

  it('keep a sane client id and replace anything else', () => {
    assert.equal(requestIdFrom('abc-123'), 'abc-123');
    assert.match(requestIdFrom('has space'), V4);
    assert.match(requestIdFrom(undefined), V4);
  });
});
