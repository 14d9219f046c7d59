/** The chart's values (defaults + schema, merged as Helm merges) and its rendered objects. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { Chart } from './go-template.js';

export const CHART_DIR = 'helm/zonegate';
export type Values = Record<string, unknown>;
export const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as object;
const validate = new Ajv({
  allErrors: true,
  // Unknown keywords are errors (typos); if/then branches may omit the `type` they inherit.
  strictSchema: true,
  strictTypes: false,
  allowUnionTypes: true,
}).compile(schema);

export const defaults = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Values;

export function valuesFile(name: string): Values {
  return parseYaml(readFileSync(join(CHART_DIR, name), 'utf8')) as Values;
}

/** Helm's coalescing: maps merge deeply, lists and scalars replace, null deletes a default. */
export function helmMerge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = helmMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** values.schema.json problems, as `helm install` lists them before rendering anything. */
export function problems(values: unknown): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly spec?: Values;
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
}

const chart = new Chart(CHART_DIR);

/**
 * `helm template <release> helm/zonegate -f <over>`: schema check, then the real templates.
 * Throws the schema problems or the template's own `fail` / `required` message.
 */
export function renderChart(over: Values, release = 'zonegate-hz-1'): K8sObject[] {
  const values = helmMerge(defaults, over);
  const bad = problems(values);
  if (bad.length > 0) throw new Error(`values don't meet the schema: ${bad.join('; ')}`);
  const objects: K8sObject[] = [];
  for (const [file, text] of chart.render({ values, release: { name: release, namespace: 'zonegate' } })) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0)
        throw new Error(`${file}: not YAML: ${doc.errors[0]?.message ?? ''}\n${text}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj !== null) objects.push(obj);
    }
  }
  return objects;
}

export function one(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

/** Secrets named by values, as an operator installs it (no secret text in values). */
export const EXISTING_SECRETS: Values = {
  admin: { token: { create: false, existingSecret: 'zg-admin-token' } },
  identity: { cookie: { existingSecret: 'zg-cookie-keys' } },
};
