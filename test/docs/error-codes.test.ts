import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('docs/errors.md', () => {
  const docs = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const listed = [...docs.matchAll(/^\| (ZG_ERR_[A-Z0-9_]+) \|/gm)].map((m) => m[1]!);

  it('lists every ZG_ERR_* code the source can raise', () => {
    const used = new Set<string>();
    for (const file of sources(join(REPO_ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(ZG_ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
    }
    assert.ok(used.size > 5, 'found the codes in src/');
    const missing = [...used].filter((c) => !listed.includes(c));
    assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(', ')}`);
  });

  it('lists each code once', () => {
    const dupes = listed.filter((c, i) => listed.indexOf(c) !== i);
    assert.deepEqual(dupes, []);
  });
});
