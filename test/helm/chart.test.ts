import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';

const chart = 'helm/zonegate';
const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as object;
const validate = new Ajv({
  allErrors: true,
  // Unknown keywords are errors (typos); if/then branches may omit the `type` they inherit.
  strictSchema: true,
  strictTypes: false,
  allowUnionTypes: true,
}).compile(schema);
const defaults = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;

type Values = Record<string, unknown>;
const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing: maps merge deeply, lists and scalars replace, null deletes a default. */
function helmMerge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = helmMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

function problems(values: unknown): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

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
      const over = parseYaml(readFileSync(join(chart, f), 'utf8')) as Values;
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
      [
        'cookie key without a secret and no existing Secret',
        { identity: { cookie: { keys: [{ id: 'k1' }] } } },
      ],
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

  it('has the objects the chart promises', () => {
    const kinds = new Set<string>();
    for (const f of templates) {
      for (const m of readFileSync(join(chart, 'templates', f), 'utf8').matchAll(/^kind: (\w+)/gm))
        kinds.add(m[1] ?? '');
    }
    for (const k of [
      'Deployment',
      'Service',
      'ConfigMap',
      'Secret',
      'PodDisruptionBudget',
      'HorizontalPodAutoscaler',
      'ServiceMonitor',
    ]) {
      assert.ok(kinds.has(k), k);
    }
  });

  it('probes the admin port and drains in preStop with the configured delay', () => {
    const dep = readFileSync(join(chart, 'templates', 'deployment.yaml'), 'utf8');
    assert.match(dep, /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: admin/);
    assert.match(dep, /preStop:[\s\S]*\/drain[\s\S]*\.Values\.drain\.delayMs/);
    assert.match(
      dep,
      /terminationGracePeriodSeconds: \{\{ include "zonegate.terminationGraceSeconds" \. \}\}/,
    );
  });
});
