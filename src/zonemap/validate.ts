import type { Problem } from '../core/errors.js';
import { compileSchema, loadPolicySchema } from '../core/schema.js';
import type { ZoneMapDoc } from './model.js';
import { formatShardRanges, parseShardSpecs, shardWidth } from './shards.js';

const checkSchema = compileSchema(loadPolicySchema('zonemap.schema.json', import.meta.url));

export type ZoneMapValidation = { ok: true; doc: ZoneMapDoc } | { ok: false; problems: Problem[] };

/**
 * Validates a parsed zone map: the JSON Schema first, then (only when the shape is right,
 * so each check can trust its types) the semantic rules of docs/design.md. Every problem is
 * reported at once; the caller keeps serving the last good map when this fails.
 */
export function validateZoneMap(input: unknown): ZoneMapValidation {
  const schemaProblems = checkSchema(input);
  if (schemaProblems.length > 0) return { ok: false, problems: schemaProblems };
  const doc = input as ZoneMapDoc;
  const problems = checkSemantics(doc);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, doc: deepFreeze(structuredClone(doc)) };
}

function checkSemantics(doc: ZoneMapDoc): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  const width = shardWidth(doc.shards);

  // IDCs belong to exactly one city.
  const cityOfIdc = new Map<string, string>();
  for (const [city, c] of Object.entries(doc.cities)) {
    c.idcs.forEach((idc, i) => {
      const other = cityOfIdc.get(idc);
      if (other !== undefined)
        add(`cities.${city}.idcs[${i}]`, `IDC '${idc}' is already listed by city ${other}`);
      else cityOfIdc.set(idc, city);
    });
  }
  for (const idc of Object.keys(doc.idcs ?? {})) {
    if (!cityOfIdc.has(idc)) add(`idcs.${idc}`, `IDC '${idc}' is not listed by any city`);
  }

  // Shard ownership: every shard owned by exactly one RZone.
  const owners: string[][] = Array.from({ length: doc.shards }, () => []);
  const gzones: string[] = [];
  const czoneOfCity = new Map<string, string>();
  for (const [name, z] of Object.entries(doc.zones)) {
    const base = `zones.${name}`;
    const city = cityOfIdc.get(z.idc);
    if (city === undefined) add(`${base}.idc`, `unknown IDC '${z.idc}'`);

    if (z.kind !== 'rzone' && z.shards !== undefined && z.shards.length > 0) {
      add(`${base}.shards`, `only rzones own shards (this zone is a ${z.kind})`);
    }
    if (z.kind === 'rzone' && z.shards !== undefined) {
      const parsed = parseShardSpecs(z.shards, doc.shards);
      for (const p of parsed.problems) add(`${base}.shards[${p.index}]`, p.message);
      const mine = new Set<number>();
      const twice: number[] = [];
      for (const s of parsed.shards) {
        if (mine.has(s)) twice.push(s);
        else {
          mine.add(s);
          (owners[s] as string[]).push(name);
        }
      }
      if (twice.length > 0) {
        add(`${base}.shards`, `${plural(twice, width, 'is', 'are')} listed more than once`);
      }
    }
    if (z.kind === 'gzone') gzones.push(name);
    if (z.kind === 'czone' && city !== undefined) {
      const other = czoneOfCity.get(city);
      if (other !== undefined) add(`${base}.kind`, `city ${city} already has czone ${other} (one per city)`);
      else czoneOfCity.set(city, name);
    }

    const seen = new Set<string>();
    (z.failover ?? []).forEach((target, i) => {
      const path = `${base}.failover[${i}]`;
      const t = doc.zones[target];
      if (t === undefined) add(path, `unknown zone '${target}'`);
      else if (target === name) add(path, 'a zone cannot be its own standby');
      else if (t.kind !== z.kind) add(path, `standby '${target}' is a ${t.kind}, not a ${z.kind}`);
      else if (seen.has(target)) add(path, `standby '${target}' is listed twice`);
      seen.add(target);
    });

    if (z.release?.greenShards !== undefined) {
      for (const p of parseShardSpecs(z.release.greenShards, doc.shards).problems) {
        add(`${base}.release.greenShards[${p.index}]`, p.message);
      }
    }
  }

  // Group ownership problems into ranges so a half-empty map gives a readable list.
  const unowned: number[] = [];
  const shared = new Map<string, number[]>();
  owners.forEach((o, shard) => {
    if (o.length === 0) unowned.push(shard);
    else if (o.length > 1) {
      const key = o.join(' and ');
      const list = shared.get(key);
      if (list === undefined) shared.set(key, [shard]);
      else list.push(shard);
    }
  });
  if (unowned.length > 0) add('', `${plural(unowned, width, 'has', 'have')} no owner`);
  for (const [who, list] of shared) add('', `${plural(list, width, 'is', 'are')} owned by ${who}`);

  if (gzones.length === 0) add('zones', 'there is no gzone (exactly one is required)');
  if (gzones.length > 1)
    add('zones', `there are ${gzones.length} gzones (${gzones.join(', ')}); exactly one is allowed`);

  (doc.routes ?? []).forEach((r, i) => {
    if (r.kind === 'czone' && czoneOfCity.size === 0) add(`routes[${i}].kind`, 'no czone exists in the map');
    const earlier = (doc.routes ?? []).slice(0, i).findIndex((e) => r.pathPrefix.startsWith(e.pathPrefix));
    if (earlier >= 0) {
      add(
        `routes[${i}].pathPrefix`,
        `never matches: routes[${earlier}] (${(doc.routes ?? [])[earlier]?.pathPrefix}) matches first`,
      );
    }
  });

  return problems;
}

/** "shard 42" / "shards 40-49, 51" with the verb agreeing. */
function plural(shards: number[], width: number, one: string, many: string): string {
  const text = formatShardRanges(shards, width).join(', ');
  return shards.length === 1 ? `shard ${text} ${one}` : `shards ${text} ${many}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
