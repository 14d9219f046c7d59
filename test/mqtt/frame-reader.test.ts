/**
 * The bounded reader: whole packets out however the bytes are split, the fixed header checked
 * before anything is buffered, malformed lengths refused. Property-based (fast-check).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ZonegateError } from '../../src/core/errors.js';
import { FrameReader, type FrameSink } from '../../src/mqtt/frame-reader.js';
import { encodeLength, frameOf } from './raw-client.js';

class Collect implements FrameSink {
  frames: Buffer[] = [];
  errors: string[] = [];
  onFrame(frame: Buffer): boolean {
    this.frames.push(Buffer.from(frame));
    return true;
  }
  onFrameError(error: ZonegateError): void {
    this.errors.push(error.code);
  }
}

function publish(body: Buffer): Buffer {
  return frameOf(0x30, body);
}

describe('mqtt frame reader', () => {
  it('reassembles packets split at any byte boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const packets = bodies.map((b) => publish(Buffer.from(b)));
          const stream = Buffer.concat(packets);
          const sink = new Collect();
          const r = new FrameReader(sink, 1024);
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = cuts[i++ % cuts.length] as number;
            r.push(stream.subarray(off, off + n));
            off += n;
          }
          assert.deepEqual(sink.errors, []);
          assert.deepEqual(sink.frames, packets);
          assert.equal(r.buffered, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a packet above the maximum from its fixed header alone', () => {
    const sink = new Collect();
    const r = new FrameReader(sink, 1000);
    r.push(Buffer.from([0x30, ...encodeLength(100_000_000)]));
    assert.deepEqual(sink.errors, ['ZG_ERR_MQTT_PACKET_TOO_LARGE']);
    assert.equal(r.buffered, 0);
    r.push(Buffer.alloc(100, 1)); // ignored after the failure
    assert.equal(sink.frames.length, 0);
  });

  it('buffers only the bytes received, not the announced length', () => {
    const sink = new Collect();
    const r = new FrameReader(sink, 300_000);
    r.push(Buffer.from([0x30, ...encodeLength(250_000), 0, 1]));
    assert.equal(r.buffered, 2 + encodeLength(250_000).length + 1 - 1 + 1);
  });

  it('refuses a fifth Remaining Length byte, reserved types and bad flags', () => {
    const cases: number[][] = [
      [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
      [0x00, 0x00],
      [0x36, 0x00], // PUBLISH QoS 3
      [0x62, 0x02, 0, 1, 0x60, 0x02, 0, 1], // second PUBREL has flags 0
      [0x80, 0x00], // SUBSCRIBE without flags 0b0010
      [0xf0, 0x00], // AUTH under 3.1.1
    ];
    for (const bytes of cases) {
      const sink = new Collect();
      const r = new FrameReader(sink, 1000);
      if (bytes[0] === 0xf0) r.version = 4;
      r.push(Buffer.from(bytes));
      assert.equal(sink.errors.length, 1, Buffer.from(bytes).toString('hex'));
      assert.equal(sink.errors[0], 'ZG_ERR_MQTT_MALFORMED');
    }
  });

  it('waits for a header split inside the Remaining Length', () => {
    const sink = new Collect();
    const r = new FrameReader(sink, 100_000);
    const p = publish(Buffer.alloc(200, 7));
    r.push(p.subarray(0, 2));
    r.push(p.subarray(2));
    assert.deepEqual(sink.frames, [p]);
  });
});
