/**
 * Bound children (src/admin/bound-metrics.ts) add to prom-client's own records: what a
 * Prometheus scrape reads must be exactly what prom-client's children would have produced for
 * the same updates, also after a reset.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { bindCounter, bindHistogram } from '../../src/admin/bound-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
// On a bound, between bounds, above the last bound, zero, and a fraction of a millisecond.
const VALUES = [0.001, 0.005, 0.1, 0.5, 3, 0, 0.0004, 1, 7.25];

function pair(): {
  ours: Registry;
  theirs: Registry;
  metrics: [Counter<'zone' | 'colour'>, Histogram<'zone'>][];
} {
  const ours = new Registry();
  const theirs = new Registry();
  const make = (r: Registry): [Counter<'zone' | 'colour'>, Histogram<'zone'>] => [
    new Counter({
      name: 't_requests_total',
      help: 'h',
      labelNames: ['zone', 'colour'] as const,
      registers: [r],
    }),
    new Histogram({
      name: 't_seconds',
      help: 'h',
      labelNames: ['zone'] as const,
      buckets: BUCKETS,
      registers: [r],
    }),
  ];
  return { ours, theirs, metrics: [make(ours), make(theirs)] };
}

describe('bound metric children', () => {
  it('expose exactly what prom-client’s own children expose for the same updates', async () => {
    const { ours, theirs, metrics } = pair();
    const [[c1, h1], [c2, h2]] = metrics as [
      [Counter<'zone' | 'colour'>, Histogram<'zone'>],
      [Counter<'zone' | 'colour'>, Histogram<'zone'>],
    ];
    const a = bindCounter(c1, { zone: 'rz01', colour: 'blue' });
    const b = bindCounter(c1, { zone: 'rz02', colour: 'green' });
    const ha = bindHistogram(h1, { zone: 'rz01' });
    const hb = bindHistogram(h1, { zone: 'rz02' });
    const pa = c2.labels({ zone: 'rz01', colour: 'blue' });
    const pb = c2.labels({ zone: 'rz02', colour: 'green' });
    const pha = h2.labels({ zone: 'rz01' });
    const phb = h2.labels({ zone: 'rz02' });
    for (const v of VALUES) {
      a.inc();
      pa.inc();
      ha.observe(v);
      pha.observe(v);
    }
    b.inc();
    pb.inc();
    hb.observe(0.05);
    phb.observe(0.05);
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /t_requests_total\{zone="rz01",colour="blue"\} 9/);
    assert.match(text, /t_seconds_bucket\{le="0\.001",zone="rz01"\} 3/);
    assert.match(text, /t_seconds_bucket\{le="\+Inf",zone="rz01"\} 9/);
    assert.match(text, /t_seconds_count\{zone="rz01"\} 9/);
  });

  it('zero series appear once bound, as prom-client’s zero() makes them', async () => {
    const { ours } = pair();
    const [c, h] = ours.getMetricsAsArray() as unknown as [Counter<'zone' | 'colour'>, Histogram<'zone'>];
    bindCounter(c, { zone: 'rz09', colour: 'blue' });
    bindHistogram(h, { zone: 'rz09' });
    const text = await ours.metrics();
    assert.match(text, /t_requests_total\{zone="rz09",colour="blue"\} 0/);
    assert.match(text, /t_seconds_count\{zone="rz09"\} 0/);
  });

  it('go on counting after the registry is reset', async () => {
    const { ours } = pair();
    const [c, h] = ours.getMetricsAsArray() as unknown as [Counter<'zone' | 'colour'>, Histogram<'zone'>];
    const bc = bindCounter(c, { zone: 'rz01', colour: 'blue' });
    const bh = bindHistogram(h, { zone: 'rz01' });
    bc.inc();
    bh.observe(0.5);
    ours.resetMetrics();
    bc.inc();
    bc.inc();
    bh.observe(2);
    const text = await ours.metrics();
    assert.match(text, /t_requests_total\{zone="rz01",colour="blue"\} 2/);
    assert.match(text, /t_seconds_count\{zone="rz01"\} 1/);
    assert.match(text, /t_seconds_sum\{zone="rz01"\} 2/);
  });

  it('refuse a value that is not a number as prom-client does', () => {
    const { ours } = pair();
    const [, h] = ours.getMetricsAsArray() as unknown as [Counter<'zone' | 'colour'>, Histogram<'zone'>];
    const bh = bindHistogram(h, { zone: 'rz01' });
    assert.throws(() => bh.observe(Number.NaN), /Value is not a valid number/);
  });
});
