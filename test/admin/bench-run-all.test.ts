import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchmarkFiles, extractReport, extractTables } from '../../bench/run-all.js';

describe('bench/run-all', () => {
  it('runs benchmarks, not itself nor the helpers they import', () => {
    const files = benchmarkFiles();
    assert.ok(files.includes('router.ts'), files.join(', '));
    assert.ok(!files.includes('run-all.ts'));
    assert.ok(!files.includes('table.ts'), 'table.ts is imported by the benchmarks');
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
