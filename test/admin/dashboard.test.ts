import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/admin/metrics.js';

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

describe('grafana dashboard', () => {
  const dash = JSON.parse(readFileSync('dashboards/zonegate.json', 'utf8')) as { panels: Panel[] };

  it('queries only metric families the gateway exports', async () => {
    const metrics = createMetrics({ defaultMetrics: true });
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const unknown: string[] = [];
    let queried = 0;
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        for (const [name] of t.expr.matchAll(/zonegate_[a-z0-9_]+/g)) {
          queried++;
          const family = name.replace(/_(bucket|sum|count)$/, '');
          if (!exported.has(family) && !exported.has(name)) unknown.push(`${p.title}: ${name}`);
        }
      }
    }
    assert.ok(queried > 20, `dashboard queries ${queried} series`);
    assert.deepEqual(unknown, []);
  });

  it('has a panel for every zonegate_ family except process internals', async () => {
    const metrics = createMetrics();
    const text = JSON.stringify(dash);
    const missing = (await metrics.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => !text.includes(n));
    assert.deepEqual(missing, []);
  });

  it('labels every series with the IDC once set', async () => {
    const metrics = createMetrics();
    metrics.setIdc('hz-1');
    assert.match(await metrics.registry.metrics(), /^zonegate_zonemap_version\{idc="hz-1"\} 0$/m);
  });
});
