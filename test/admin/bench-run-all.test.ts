import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityInputLine, parseCapacityInputs } from '../../bench/capacity.js';
import {
  benchmarkFiles,
  capacitySection,
  extractReport,
  extractTables,
  resultsMarkdown,
  splitSections,
  type BenchRun,
} from '../../bench/run-all.js';

describe('bench/run-all', () => {
  it('runs benchmarks, not itself nor the helpers they import', () => {
    const files = benchmarkFiles();
    assert.ok(files.includes('router.ts'), files.join(', '));
    assert.ok(!files.includes('run-all.ts'));
    assert.ok(!files.includes('table.ts'), 'table.ts is imported by the benchmarks');
    assert.ok(!files.includes('capacity.ts'), 'capacity.ts is imported by the benchmarks');
    assert.ok(!files.includes('_undici-forwarder.ts'), 'a peer a benchmark starts is not a benchmark');
  });

  it('keeps every markdown table a benchmark printed, and nothing else', () => {
    const out = [
      'warming up...',
      '| case | ops/s |',
      '|------|-------|',
      '| uid  | 1,000 |',
      'done round 1',
      '| a | b |',
      '|---|---|',
      '| x | 1 |',
      '| stray',
      '',
    ].join('\n');
    const tables = extractTables(out);
    assert.equal(tables.length, 2);
    assert.equal(tables[0], '| case | ops/s |\n|------|-------|\n| uid  | 1,000 |');
    assert.match(tables[1] ?? '', /^\| a \| b \|/);
  });

  it('reports caption, tables and summary, without the progress lines before them', () => {
    const out = [
      'measuring direct ...',
      'measuring zonegate ...',
      '## Router (bench/router.ts)',
      '',
      '| a | b |',
      '|---|---|',
      '| x | 1 |',
      'target: >= 2M/s: met',
      '',
    ].join('\n');
    assert.equal(
      extractReport(out),
      [
        '_Router (bench/router.ts)_',
        '',
        '| a | b |',
        '|---|---|',
        '| x | 1 |',
        '',
        'target: >= 2M/s: met',
      ].join('\n'),
    );
  });
});

describe('bench/run-all: partial runs and the capacity note', () => {
  const run = (name: string, output: string): BenchRun => ({
    name,
    code: 0,
    ms: 1000,
    tables: extractTables(output),
    output,
  });
  const httpOut = [
    'HTTP caption',
    '',
    '| target | req per CPU-s |',
    '| --- | ---: |',
    '| nginx | 100,000 |',
    capacityInputLine({ metric: 'http-req-per-cpu-s', target: 'nginx', value: 100_000, source: 'test' }),
    capacityInputLine({ metric: 'http-req-per-cpu-s', target: 'Zonegate', value: 40_000, source: 'test' }),
  ].join('\n');
  const mqttOut = [
    'MQTT edge',
    '',
    '| measure | mosquitto direct | HAProxy | Zonegate | Zonegate / HAProxy |',
    '|---|---|---|---|---|',
    '| connects/s (plain) | 13,538 | 14,032 | 6,589 | 0.47x |',
    '| connects per relay CPU-second |  | 18,103 | 6,673 | 0.37x |',
    '| idle KB per plain connection (RSS) |  | 3.40 | 8.0 | 0.80x |',
  ].join('\n');

  it('replaces the sections it ran and keeps the others', () => {
    const first = resultsMarkdown([run('http', httpOut), run('mqtt', mqttOut)]);
    const again = resultsMarkdown([run('http', httpOut.replace('100,000', '99,999'))], splitSections(first));
    assert.match(again, /## mqtt\n[\s\S]*\| connects per relay CPU-second \| {2}\| 18,103 \| 6,673 \|/);
    assert.match(again, /\| nginx \| 99,999 \|/);
    assert.doesNotMatch(again, /\| nginx \| 100,000 \|/);
    assert.equal(again.match(/^## capacity$/gm)?.length, 1, 'one capacity note, rebuilt');
    assert.match(
      again,
      /Measured in this run: http; kept from an earlier run \(its own machine and versions\): mqtt/,
    );
  });

  it('sizes the fleet from the figures, with the arithmetic written out', () => {
    const note = capacitySection(
      splitSections(resultsMarkdown([run('http', httpOut), run('mqtt', mqttOut)])),
    );
    assert.match(
      note,
      /\| Zonegate \| 10,000,000 \/ 40,000 = \*\*250\*\* \| 333,333 \/ 6,673 = \*\*50\*\* \| 100,000,000 × 8\.0 KB = \*\*0\.75 TiB\*\* \|/,
    );
    assert.match(note, /\| nginx \| 10,000,000 \/ 100,000 = \*\*100\*\* \| not measured \| not measured \|/);
    assert.match(
      note,
      /\| HAProxy \| not measured \| 333,333 \/ 18,103 = \*\*19\*\* \| 100,000,000 × 3\.4 KB = \*\*0\.32 TiB\*\* \|/,
    );
  });

  it("prefers a benchmark's own capacity figures to the table it printed", () => {
    const own = `${mqttOut}\n${capacityInputLine({ metric: 'mqtt-connects-per-core-s', target: 'Zonegate', value: 20_000, source: 'mqtt' })}`;
    const note = capacitySection(splitSections(resultsMarkdown([run('mqtt', own)])));
    assert.match(note, /333,333 \/ 20,000 = \*\*17\*\*/);
    assert.deepEqual(
      parseCapacityInputs('<!-- capacity-input: {"metric":"x","target":"Nobody","value":1} -->'),
      [],
    );
  });
});
