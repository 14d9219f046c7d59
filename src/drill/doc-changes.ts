import type { ZoneDoc, ZoneMapDoc } from '../zonemap/index.js';

/**
 * What an SRE changed, field by field, in words: `zone rz03 status up -> down`. Used in the
 * dry-run output and as the history entry's summary.
 */
export function docChanges(prev: ZoneMapDoc | null, next: ZoneMapDoc): string[] {
  if (prev === null) {
    return [`first map: ${Object.keys(next.zones).length} zones, ${next.shards} shards`];
  }
  const out: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown): void => {
    const sa = show(a);
    const sb = show(b);
    if (sa !== sb) out.push(`${what} ${sa} -> ${sb}`);
  };
  if (prev.shards !== next.shards) out.push(`shards ${prev.shards} -> ${next.shards}`);
  for (const name of union(Object.keys(prev.cities), Object.keys(next.cities))) {
    const a = prev.cities[name];
    const b = next.cities[name];
    if (a === undefined || b === undefined) {
      out.push(`city ${name} ${a === undefined ? 'added' : 'removed'}`);
      continue;
    }
    cmp(`city ${name} status`, a.status, b.status);
    cmp(`city ${name} idcs`, a.idcs, b.idcs);
  }
  for (const name of union(Object.keys(prev.idcs ?? {}), Object.keys(next.idcs ?? {}))) {
    const a = prev.idcs?.[name];
    const b = next.idcs?.[name];
    cmp(`idc ${name} status`, a?.status ?? 'up', b?.status ?? 'up');
    cmp(`idc ${name} gateways`, a?.gateways ?? [], b?.gateways ?? []);
  }
  for (const name of union(Object.keys(prev.zones), Object.keys(next.zones))) {
    const a = prev.zones[name];
    const b = next.zones[name];
    if (a === undefined || b === undefined) {
      out.push(`zone ${name} ${a === undefined ? 'added' : 'removed'}`);
      continue;
    }
    zoneChanges(name, a, b, cmp);
  }
  cmp('routes', prev.routes ?? [], next.routes ?? []);
  return out;
}

function zoneChanges(
  name: string,
  a: ZoneDoc,
  b: ZoneDoc,
  cmp: (w: string, a: unknown, b: unknown) => void,
): void {
  cmp(`zone ${name} kind`, a.kind, b.kind);
  cmp(`zone ${name} idc`, a.idc, b.idc);
  cmp(`zone ${name} status`, a.status ?? 'up', b.status ?? 'up');
  cmp(`zone ${name} weight`, a.weight ?? 'default', b.weight ?? 'default');
  cmp(`zone ${name} shards`, a.shards ?? [], b.shards ?? []);
  cmp(`zone ${name} failover`, a.failover ?? [], b.failover ?? []);
  cmp(`zone ${name} upstreams`, a.upstreams ?? {}, b.upstreams ?? {});
  cmp(`zone ${name} release.green`, a.release?.green ?? 0, b.release?.green ?? 0);
  cmp(`zone ${name} release.greenShards`, a.release?.greenShards ?? [], b.release?.greenShards ?? []);
  cmp(`zone ${name} release.greenUids`, a.release?.greenUids ?? [], b.release?.greenUids ?? []);
}

function show(v: unknown): string {
  if (Array.isArray(v))
    return `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')}]`;
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}
