/**
 * The chart's ConfigMap must hold a config the gateway accepts. helm is not installed here,
 * so: (1) every key the template writes must exist in policies/config.schema.json; (2) a
 * TypeScript mirror of the template, fed values.yaml and each values-<idc>.yaml, must pass
 * validateConfig; (3) the mirror writes no key the template does not (it stays a mirror).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../src/core/config.js';

const chart = 'helm/zonegate';
type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Dotted key paths (`listeners.[].tls.cert`) written by the config.yaml block of the template. */
function templateKeyPaths(template: string): Set<string> {
  const lines = template.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'config.yaml: |');
  assert.ok(start >= 0, 'configmap.yaml has a config.yaml block');
  const paths = new Set<string>();
  const stack: { indent: number; seg: string }[] = [];
  const here = (key: string): string => [...stack.map((s) => s.seg), key].join('.');
  for (const raw of lines.slice(start + 1)) {
    if (/^ {0,3}\S/.test(raw) && !raw.trim().startsWith('{{')) break; // end of the block scalar
    const m = /^( *)(- )?(.*)$/.exec(raw);
    const rest = (m?.[3] ?? '').trim();
    if (rest === '' || rest.startsWith('{{') || rest.startsWith('#')) continue;
    let indent = m?.[1]?.length ?? 0;
    if (m?.[2] !== undefined) {
      while (stack.length > 0 && (stack.at(-1)?.indent ?? -1) >= indent) stack.pop();
      stack.push({ indent, seg: '[]' });
      indent += 2;
    }
    while (stack.length > 0 && (stack.at(-1)?.indent ?? -1) >= indent) stack.pop();
    if (rest.startsWith('{')) {
      for (const k of rest.matchAll(/(\w+):/g)) paths.add(here(k[1] ?? ''));
      continue;
    }
    const key = /^([A-Za-z][A-Za-z0-9]*):/.exec(rest)?.[1];
    if (key === undefined) continue;
    paths.add(here(key));
    stack.push({ indent, seg: key });
  }
  return paths;
}

function objectKeyPaths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) objectKeyPaths(v, `${prefix}[].`, out);
  else if (isMap(value)) {
    for (const [k, v] of Object.entries(value)) {
      out.add(`${prefix}${k}`);
      objectKeyPaths(v, `${prefix}${k}.`, out);
    }
  }
  return out;
}

function schemaHas(schema: Json, path: string): boolean {
  const defs = (schema.definitions ?? {}) as Json;
  let node: unknown = schema;
  for (const seg of path.split('.')) {
    while (isMap(node) && typeof node.$ref === 'string') node = defs[node.$ref.replace('#/definitions/', '')];
    if (!isMap(node)) return false;
    if (seg === '[]') node = node.items;
    else node = isMap(node.properties) ? node.properties[seg] : undefined;
    if (node === undefined) return false;
  }
  return true;
}

interface ChartValues {
  idc: string;
  crossIdc: string;
  workers: number;
  listeners: { name: string; protocol: string; port: number; proxyProtocol?: boolean; tls?: boolean }[];
  zonemap: {
    source: 'redis' | 'file';
    redis: {
      url?: string;
      sentinels?: { host: string; port: number }[];
      masterName?: string;
      keyPrefix: string;
    };
  };
  identity: { uidHeader: string; cookie: { maxAgeSec: number; secure: boolean; keys: { id: string }[] } };
  admin: { port: number };
  logging: { level: string; accessSampleRate: number };
  drain: { delayMs: number; timeoutMs: number };
  tls: { requestCert?: boolean };
}

/** templates/configmap.yaml, line for line. */
function renderConfig(v: ChartValues): Json {
  const r = v.zonemap.redis;
  return {
    idc: v.idc,
    crossIdc: v.crossIdc,
    listeners: v.listeners.map((l) => ({
      name: l.name,
      protocol: l.protocol,
      port: l.port,
      host: '0.0.0.0',
      proxyProtocol: l.proxyProtocol ?? false,
      ...(l.tls === true
        ? {
            tls: {
              cert: '/etc/zonegate/tls/tls.crt',
              key: '/etc/zonegate/tls/tls.key',
              ...(v.tls.requestCert === true ? { ca: '/etc/zonegate/tls/ca.crt', requestCert: true } : {}),
            },
          }
        : {}),
    })),
    zonemap:
      v.zonemap.source === 'redis'
        ? {
            redis: {
              ...(r.url !== undefined && r.url !== ''
                ? { url: r.url }
                : { sentinels: r.sentinels, name: r.masterName }),
              keyPrefix: r.keyPrefix,
              snapshotFile: '/var/lib/zonegate/zonemap-snapshot.json',
            },
          }
        : { file: '/etc/zonegate/zonemap.yaml' },
    identity: {
      uidHeader: v.identity.uidHeader,
      cookie: {
        maxAgeSec: v.identity.cookie.maxAgeSec,
        secure: v.identity.cookie.secure,
        keys: v.identity.cookie.keys.map((k) => ({
          id: k.id,
          secretFile: `/etc/zonegate/secrets/cookie-${k.id}`,
        })),
      },
    },
    admin: { host: '0.0.0.0', port: v.admin.port, tokenFile: '/etc/zonegate/admin/token' },
    logging: { level: v.logging.level, accessSampleRate: v.logging.accessSampleRate },
    drain: { delayMs: v.drain.delayMs, timeoutMs: v.drain.timeoutMs },
    workers: { count: v.workers },
  };
}

function helmMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = helmMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

describe('helm chart config', () => {
  const template = readFileSync(join(chart, 'templates', 'configmap.yaml'), 'utf8');
  const schema = JSON.parse(readFileSync('policies/config.schema.json', 'utf8')) as Json;
  const defaults = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Json;
  const files = readdirSync(chart).filter((f) => /^values-.+\.yaml$/.test(f));

  it('writes only keys the config schema knows', () => {
    const keys = templateKeyPaths(template);
    assert.ok(
      keys.has('listeners.[].tls.cert') && keys.has('zonemap.redis.sentinels.[].host'),
      [...keys].join(' '),
    );
    assert.deepEqual(
      [...keys].filter((k) => !schemaHas(schema, k)),
      [],
    );
  });

  it('renders a config the gateway accepts, for the defaults and every IDC', () => {
    const keys = templateKeyPaths(template);
    for (const [name, over] of [
      ['values.yaml', {}] as const,
      ...files.map((f) => [f, parseYaml(readFileSync(join(chart, f), 'utf8')) as Json] as const),
    ]) {
      const config = renderConfig(helmMerge(defaults, over) as unknown as ChartValues);
      assert.deepEqual(
        [...objectKeyPaths(config)].filter((k) => !keys.has(k)),
        [],
        `${name}: the mirror writes keys the template does not`,
      );
      assert.doesNotThrow(() => validateConfig(config), name);
    }
  });

  it('would catch a value the gateway refuses', () => {
    const bad = helmMerge(defaults, { zonemap: { redis: { keyPrefix: 'zonegate:' } } });
    assert.throws(() => validateConfig(renderConfig(bad as unknown as ChartValues)), /keyPrefix/);
  });
});
