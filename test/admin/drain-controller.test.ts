import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/admin/metrics.js';
import { DrainController, type DrainParticipant } from '../../src/gateway/drain.js';

/** `hangs`: a finish() that never ends (only the deadline stops it). */
function participant(name: string, hangs: boolean, log: string[]): DrainParticipant {
  return {
    name,
    stopAccepting: () => {
      log.push(`${name}:stop`);
    },
    finish: () =>
      (hangs ? new Promise<void>(() => undefined) : Promise.resolve()).then(
        () => void log.push(`${name}:finished`),
      ),
    forceClose: () => {
      log.push(`${name}:cut`);
    },
  };
}

describe('DrainController', () => {
  it('fails health first, stops accepting only after the delay, and reports a clean drain', async () => {
    const log: string[] = [];
    const metrics = createMetrics();
    const drain = new DrainController({ delayMs: 100, timeoutMs: 1000, metrics });
    drain.register(participant('http', false, log));
    const done = drain.start('test');
    assert.equal(drain.draining, true);
    assert.equal(drain.phase, 'failing-health');
    assert.deepEqual(log, [], 'nothing closes during the delay');
    assert.equal((await metrics.draining.get()).values[0]?.value, 1);
    assert.equal(drain.start('again'), done, 'a second start joins the first');
    assert.equal(await done, 'clean');
    assert.deepEqual(log, ['http:stop', 'http:finished']);
    assert.equal(drain.phase, 'done');
  });

  it('cuts only the participants that miss the deadline', async () => {
    const log: string[] = [];
    const drain = new DrainController({ delayMs: 0, timeoutMs: 100 });
    drain.register(participant('fast', false, log));
    drain.register(participant('slow', true, log));
    // Resolves at all only because timeoutMs bounds the hanging participant.
    assert.equal(await drain.start('test'), 'timeout');
    assert.ok(log.includes('slow:cut'));
    assert.ok(!log.includes('fast:cut'));
  });

  it('treats a participant that fails to finish like a slow one', async () => {
    const log: string[] = [];
    const drain = new DrainController({ delayMs: 0, timeoutMs: 100 });
    drain.register({ ...participant('broken', false, log), finish: () => Promise.reject(new Error('boom')) });
    assert.equal(await drain.start('test'), 'timeout');
    assert.deepEqual(log, ['broken:stop', 'broken:cut']);
  });

  it('refuses a negative or fractional delay', () => {
    assert.throws(() => new DrainController({ delayMs: -1, timeoutMs: 1 }), /invalid drain delayMs/);
    assert.throws(() => new DrainController({ delayMs: 0, timeoutMs: 1.5 }), /invalid drain timeoutMs/);
  });
});
