/**
 * Moves are paced: at most movesPerSecond per gateway (with jitter), `down` moves at once,
 * `drain` spreads them over the drain window.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient, sleep, startFixture, waitFor, type Fixture } from './fixture.js';

/** Times (ms since start) at which the scheduler started each move. */
async function recordStarts(f: Fixture, expected: number, timeoutMs: number): Promise<number[]> {
  const t0 = performance.now();
  const times: number[] = [];
  let seen = f.server.scheduler.started;
  const deadline = t0 + timeoutMs;
  while (times.length < expected && performance.now() < deadline) {
    await sleep(2);
    const now = f.server.scheduler.started;
    for (; seen < now; seen++) times.push(performance.now() - t0);
  }
  return times;
}

async function connectMany(f: Fixture, n: number, prefix: string): Promise<MqttClient[]> {
  const out: MqttClient[] = [];
  for (let i = 0; i < n; i++) {
    // uids 100..109 are in shards 00-09 (rz00)
    out.push(await connectClient(f.port, { clientId: `10${i % 10}-${prefix}-${i}`, protocolVersion: 4 }));
  }
  return out;
}

describe('mqtt move pacing', () => {
  const fixtures: Fixture[] = [];
  const clients: MqttClient[] = [];
  after(async () => {
    await Promise.all(clients.map(endClient));
    for (const f of fixtures) await f.close();
  });

  it('holds movesPerSecond: 30 clients at 20/s take about 1.5 s, never more than 1.25 x rate + 1 in a second', async () => {
    const f = await startFixture({ zones: ['rz00', 'rz02'], config: { migration: { movesPerSecond: 20 } } });
    fixtures.push(f);
    clients.push(...(await connectMany(f, 30, 'pace')));
    f.setZoneStatus('rz00', 'down');
    const times = await recordStarts(f, 30, 5000);
    assert.equal(times.length, 30);
    const span = (times[29] as number) - (times[0] as number);
    assert.ok(span >= 1300, `30 moves took only ${span.toFixed(0)} ms`);
    assert.ok(span <= 2500, `30 moves took ${span.toFixed(0)} ms`);
    for (const t of times) {
      const inWindow = times.filter((x) => x >= t && x < t + 1000).length;
      // Token bucket bound: rate x 1 s, plus at most 250 ms of catch-up after a late tick, plus 1.
      assert.ok(inWindow <= 26, `${inWindow} moves within one second`);
    }
    await waitFor('all on rz02', () => f.server.describeConnections().every((c) => c.zone === 'rz02'), 5000);
    assert.equal(f.server.stats.movesOk, 30);
  });

  it('down moves at once (paced only by the rate); drain spreads over drainWindowMs', async () => {
    const f = await startFixture({
      zones: ['rz00', 'rz02'],
      config: { migration: { movesPerSecond: 1000, drainWindowMs: 1500 } },
    });
    fixtures.push(f);
    clients.push(...(await connectMany(f, 10, 'drain')));
    f.setZoneStatus('rz00', 'down');
    const down = await recordStarts(f, 10, 3000);
    assert.equal(down.length, 10);
    assert.ok((down[9] as number) < 300, `down took ${(down[9] as number).toFixed(0)} ms`);
    await waitFor('all on rz02', () => f.server.describeConnections().every((c) => c.zone === 'rz02'), 3000);

    f.setZoneStatus('rz00', 'up'); // everyone moves back at once
    await waitFor(
      'all back on rz00',
      () => f.server.describeConnections().every((c) => c.zone === 'rz00'),
      3000,
    );
    f.setZoneStatus('rz00', 'drain');
    const drain = await recordStarts(f, 10, 4000);
    assert.equal(drain.length, 10);
    const spread = (drain[9] as number) - (drain[0] as number);
    assert.ok(spread > 400, `drain moved everyone within ${spread.toFixed(0)} ms`);
    assert.ok((drain[9] as number) < 2000, `drain took ${(drain[9] as number).toFixed(0)} ms`);
  });
});
