import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Problem } from './errors.js';

/**
 * JSON Schema validation shared by the zone map and the config: schemas are compiled once
 * at module load, and ajv's errors are turned into `Problem`s with dotted paths and plain
 * sentences ("zones.rz03.status: must be one of up, drain, down").
 */

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
// useDefaults is an instance option; the config fills its defaults from its schema.
const ajvWithDefaults = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true });

/** Returns every problem; with `useDefaults`, also writes schema defaults into `input`. */
export type SchemaCheck = (input: unknown) => Problem[];

/** Reads a schema from `policies/` (two levels above both src/<stage> and dist/<stage>). */
export function loadPolicySchema(fileName: string, from: string): object {
  const url = new URL(`../../policies/${fileName}`, from);
  return JSON.parse(readFileSync(url, 'utf8')) as object;
}

export function compileSchema(schema: object, options: { useDefaults?: boolean } = {}): SchemaCheck {
  const validate: ValidateFunction = (options.useDefaults === true ? ajvWithDefaults : ajv).compile(schema);
  return (input) => (validate(input) ? [] : toProblems(validate.errors ?? []));
}

/** `/zones/rz03/failover/1` → `zones.rz03.failover[1]` */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function toProblems(errors: readonly ErrorObject[]): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const p = toProblem(e);
    if (p === null) continue;
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

function toProblem(e: ErrorObject): Problem | null {
  const path = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: join(path, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties':
      return { path: join(path, String(params.additionalProperty)), message: 'is not a known property' };
    case 'enum':
      return {
        path,
        message: `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'type':
      return { path, message: `must be ${article(String(params.type))}` };
    case 'propertyNames':
      // Reported again, more precisely, by the `pattern` error on the name itself.
      return null;
    case 'pattern':
      if (e.propertyName !== undefined) {
        return {
          path: join(path, e.propertyName),
          message: 'is not a valid name (letters, digits, _ and -)',
        };
      }
      return { path, message: `has an invalid format (${describePattern(String(params.pattern))})` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

function article(type: string): string {
  const t = type.replace(/,/g, ' or ');
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function describePattern(pattern: string): string {
  if (pattern.startsWith('^[0-9]+(-[0-9]+)?')) return 'expected a shard like "07" or a range like "00-19"';
  if (pattern.includes('[0-9]{1,5}$')) return 'expected host:port';
  if (pattern === '^/') return 'must start with /';
  return `expected ${pattern}`;
}
