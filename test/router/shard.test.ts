import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fnv1a32, shardOf } from '../../src/router/index.js';

/** Reference FNV-1a over Buffer.from(s, 'utf8'): the definition docs/design.md gives. */
function referenceFnv(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

describe('shardOf', () => {
  it('takes the last two digits of a decimal uid with 100 shards', () => {
    assert.equal(shardOf('10000042', 100), 42);
    assert.equal(shardOf('7', 100), 7);
    assert.equal(shardOf('00', 100), 0);
    assert.equal(shardOf('123456789012345678901234567890', 100), 90);
  });

  it('equals BigInt(uid) % shards for any decimal uid and shard count', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,60}$/), fc.integer({ min: 1, max: 100000 }), (uid, shards) => {
        assert.equal(shardOf(uid, shards), Number(BigInt(uid) % BigInt(shards)));
      }),
      { numRuns: 5000 },
    );
  });

  it('hashes any other uid with FNV-1a 32 of its UTF-8 bytes', () => {
    assert.equal(shardOf('alice', 100), referenceFnv('alice') % 100);
    assert.equal(shardOf('-1', 100), referenceFnv('-1') % 100, 'a sign makes it non-decimal');
    assert.equal(shardOf('', 100), referenceFnv('') % 100);
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.integer({ min: 1, max: 10000 }),
        (uid, shards) => {
          fc.pre(!/^[0-9]+$/.test(uid));
          assert.equal(shardOf(uid, shards), referenceFnv(uid) % shards);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('encodes non-ASCII, astral and lone surrogates exactly as Buffer does', () => {
    for (const s of ['é', '中文用户', '😀', 'a\ud800b', '\udc00', 'x\ud83d']) {
      assert.equal(fnv1a32(s), referenceFnv(s), JSON.stringify(s));
    }
  });
});
