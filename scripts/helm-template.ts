/**
 * `helm template` for hosts without helm: renders helm/zonegate with the chart's own
 * templates through test/helm/go-template.ts, after the values.schema.json check.
 *
 *   node --import tsx scripts/helm-template.ts [RELEASE] [-f VALUES.yaml]...
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { helmMerge, renderChart, type Values } from '../test/helm/chart-fixture.js';

const args = process.argv.slice(2);
let release = 'zonegate';
let values: Values = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i] ?? '';
  if (a === '-f' || a === '--values')
    values = helmMerge(values, parseYaml(readFileSync(args[++i] ?? '', 'utf8')) as Values);
  else release = a;
}
try {
  for (const o of renderChart(values, release))
    process.stdout.write(`---\n${stringify(o, { lineWidth: 0 })}`);
} catch (err) {
  console.error(`Error: ${(err as Error).message}`);
  process.exitCode = 1;
}
