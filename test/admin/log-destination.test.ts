/**
 * The buffered log destination (`logDestination`, what `zonegate start` writes both logs
 * through), in a real child process writing to a real pipe: every line arrives whole and in
 * order — multi-byte UTF-8, a line longer than the whole buffer, batches past 64 KiB — including
 * the ones still buffered when the process exits without a graceful stop.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

const CHILD = `
import { logDestination } from './src/core/logger.ts';
const d = logDestination(1);
for (let i = 0; i < 3000; i++) d.write(JSON.stringify({ i, host: i % 7 === 0 ? '用户甲.example' : 'a.example' }) + '\\n');
d.write(JSON.stringify({ long: 'x'.repeat(100_000) }) + '\\n');
for (let i = 3000; i < 3100; i++) d.write(JSON.stringify({ i, host: 'ü'.repeat(i % 50) }) + '\\n');
process.exit(0);
`;

describe('buffered log destination', () => {
  it('delivers every line whole and in order, also those buffered at exit', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    });
    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '', 'the output ends with a newline');
    assert.equal(lines.length, 3101);
    const parsed = lines.map((l) => JSON.parse(l) as { i?: number; host?: string; long?: string });
    for (let i = 0; i < 3000; i++) {
      assert.equal(parsed[i]?.i, i);
      assert.equal(parsed[i]?.host, i % 7 === 0 ? '用户甲.example' : 'a.example');
    }
    assert.equal(parsed[3000]?.long?.length, 100_000);
    for (let i = 3000; i < 3100; i++) assert.equal(parsed[i + 1]?.host, 'ü'.repeat(i % 50));
  });
});
