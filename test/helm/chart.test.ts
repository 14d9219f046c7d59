import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHART_DIR as chart,
  defaults,
  helmMerge,
  isMap,
  problems,
  valuesFile,
  type Values,
} from './chart-fixture.js';

const exampleFiles = readdirSync(chart).filter((f) => /^values-.+\.yaml$/.test(f));

describe('helm chart values', () => {
  it('values.yaml validates against values.schema.json', () => {
    assert.deepEqual(problems(defaults), []);
  });

  it('has a values file for each of the five IDCs, and each validates over the defaults', () => {
    assert.deepEqual(exampleFiles.sort(), [
      'values-hz-1.yaml',
      'values-hz-2.yaml',
      'values-sh-1.yaml',
      'values-sh-2.yaml',
      'values-sz-1.yaml',
    ]);
    for (const f of exampleFiles) {
      const over = valuesFile(f);
      const merged = helmMerge(defaults, over);
      assert.deepEqual(problems(merged), [], f);
      assert.equal(merged.idc, f.slice('values-'.length, -'.yaml'.length), `${f} sets its own idc`);
    }
  });

  it('rejects values a release must not go out with', () => {
    const bad: [string, Values][] = [
      ['unknown top-level key', { replicas: 3 }],
      [
        'https listener without tls',
        { listeners: [{ name: 'https', protocol: 'https', port: 8443, servicePort: 443 }] },
      ],
      [
        'redis source without url or sentinels',
        { zonemap: { source: 'redis', redis: { url: '', sentinels: null } } },
      ],
      ['short cookie secret', { identity: { cookie: { keys: [{ id: 'k1', secret: 'short' }] } } }],
      ['the old example admin token', { admin: { token: { value: 'change-me-admin-token' } } }],
      [
        'the old example cookie secret',
        { identity: { cookie: { keys: [{ id: 'k1', secret: 'dev-only-cookie-secret-change-me' }] } } },
      ],
      [
        "the example gateway config's cookie secret",
        { identity: { cookie: { keys: [{ id: 'k1', secret: 'change-me-to-32-random-bytes-0001' }] } } },
      ],
      ['a short admin token', { admin: { token: { value: 'secret' } } }],
      ['a Redis password in the URL', { zonemap: { redis: { url: 'redis://:hunter2@redis:6379/0' } } }],
      ['a health NodePort outside the NodePort range', { lvs: { healthNodePort: 9901 } }],
      ['negative drain delay', { drain: { delayMs: -1, timeoutMs: 1000 } }],
      [
        'TLS listener without a certificate',
        { listeners: [{ name: 'https', protocol: 'https', port: 8443, servicePort: 443, tls: true }] },
      ],
    ];
    for (const [why, over] of bad) {
      assert.notDeepEqual(problems(helmMerge(defaults, over)), [], why);
    }
  });
});

describe('helm chart templates', () => {
  const templates = readdirSync(join(chart, 'templates')).filter((f) => /\.(yaml|tpl)$/.test(f));

  it('uses only .Values paths that exist in values.yaml', () => {
    const missing: string[] = [];
    let uses = 0;
    for (const f of templates) {
      const text = readFileSync(join(chart, 'templates', f), 'utf8');
      for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        uses++;
        let node: unknown = defaults;
        for (const key of (m[1] ?? '').slice(1).split('.')) {
          if (!isMap(node) || !(key in node)) {
            missing.push(`${f}: .Values${m[1] ?? ''}`);
            break;
          }
          node = node[key];
        }
      }
    }
    assert.ok(uses > 50, `found ${uses} .Values uses`);
    assert.deepEqual([...new Set(missing)], []);
  });
});
