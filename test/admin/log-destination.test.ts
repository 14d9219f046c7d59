/**
 * The buffered log destination (`logDestination`, what `zonegate start` writes both logs
 * through), in a real child process: every line arrives whole and in order — multi-byte UTF-8,
 * a line longer than the whole buffer, batches past 64 KiB. To a file even when the process
 * exits without a graceful stop; to a pipe once the destination was flushed (a graceful stop).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';

/** Writes the lines to fd 1, then exits: at once, or after a flush. */
function child(end: 'exit' | 'flush'): string {
  return `
import { logDestination } from './src/core/logger.ts';
const d = logDestination(1);
for (let i = 0; i < 3000; i++) d.write(JSON.stringify({ i, host: i % 7 === 0 ? '用户甲.example' : 'a.example' }) + '\\n');
d.write(JSON.stringify({ long: 'x'.repeat(100_000) }) + '\\n');
for (let i = 3000; i < 3100; i++) d.write(JSON.stringify({ i, host: 'ü'.repeat(i % 50) }) + '\\n');
${end === 'exit' ? 'process.exit(0);' : 'd.flush(() => process.exit(0));'}
`;
}

/** Runs the child with fd 1 on `out` (a file descriptor) or a pipe; its stdout when piped. */
async function runChild(end: 'exit' | 'flush', out: number | 'pipe'): Promise<string> {
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child(end)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', out, 'inherit'],
  });
  let text = '';
  p.stdout?.setEncoding('utf8');
  p.stdout?.on('data', (d: string) => (text += d));
  const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
  assert.equal(code, 0);
  return text;
}

function assertLines(text: string): void {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a newline');
  assert.equal(lines.length, 3101);
  const parsed = lines.map((l) => JSON.parse(l) as { i?: number; host?: string; long?: string });
  for (let i = 0; i < 3000; i++) {
    assert.equal(parsed[i]?.i, i);
    assert.equal(parsed[i]?.host, i % 7 === 0 ? '用户甲.example' : 'a.example');
  }
  assert.equal(parsed[3000]?.long?.length, 100_000);
  for (let i = 3000; i < 3100; i++) assert.equal(parsed[i + 1]?.host, 'ü'.repeat(i % 50));
}

describe('buffered log destination', () => {
  it('to a file: every line whole and in order, also those buffered when the process exits', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'zg-log-')), 'access.log');
    const fd = openSync(file, 'w');
    try {
      await runChild('exit', fd);
    } finally {
      closeSync(fd);
    }
    assertLines(readFileSync(file, 'utf8'));
  });

  it('to a pipe: every line whole and in order once flushed', async () => {
    assertLines(await runChild('flush', 'pipe'));
  });
});
