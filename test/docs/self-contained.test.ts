import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';

// The contracts live in docs/ (docs/design.md): a clone of this repository alone must hold
// every document its files point to.
describe('the repository is self-contained', () => {
  it('no tracked file points outside the repository', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(
        (f) => f !== '' && !f.endsWith('package-lock.json') && f !== 'test/docs/self-contained.test.ts',
      );
    const offenders: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(join(REPO_ROOT, f), 'utf8');
      } catch {
        continue; // removed in the working tree
      }
      if (/\.\.\/shared\/|\bDESIGN\.md\b/.test(text)) offenders.push(f);
    }
    assert.deepEqual(offenders, [], `these files point outside the repository: ${offenders.join(', ')}`);
  });

  it('docs/design.md holds the contracts', () => {
    const design = readFileSync(join(REPO_ROOT, 'docs/design.md'), 'utf8');
    for (const heading of ['## Vocabulary', '## Data flow', '## Zone map', '## Contracts', '## Changelog']) {
      assert.ok(design.includes(heading), `docs/design.md lacks "${heading}"`);
    }
  });
});
