import { readFile } from 'node:fs/promises';
import type { ZoneMapDoc } from '../zonemap/index.js';
import { parseDocument } from '../zonemap/index.js';

/** The example three-site five-center map (policies/examples), the lab's default fleet. */
export async function exampleMap(): Promise<ZoneMapDoc> {
  const url = new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url);
  return parseDocument(await readFile(url, 'utf8'), url.pathname) as ZoneMapDoc;
}

/**
 * The smallest fleet a city failover means something for: three cities of one IDC each, one
 * RZone per IDC (10 shards), each failing over to the next city, and the GZone every map has. Upstreams are filled in by
 * the lab.
 */
export function smallMap(): ZoneMapDoc {
  const rz = (idc: string, shards: string, failover: string[]) => ({
    kind: 'rzone' as const,
    idc,
    shards: [shards],
    status: 'up' as const,
    weight: 100,
    failover,
    upstreams: { http: { blue: ['127.0.0.1:1'], green: ['127.0.0.1:1'] }, mqtt: ['127.0.0.1:1'] },
    release: { green: 0, greenShards: [], greenUids: [] },
  });
  return {
    version: 1,
    shards: 10,
    cities: {
      hz: { status: 'up', idcs: ['hz-1'] },
      sh: { status: 'up', idcs: ['sh-1'] },
      sz: { status: 'up', idcs: ['sz-1'] },
    },
    idcs: {
      'hz-1': { status: 'up', gateways: [] },
      'sh-1': { status: 'up', gateways: [] },
      'sz-1': { status: 'up', gateways: [] },
    },
    zones: {
      rz00: rz('hz-1', '0-3', ['rz01']),
      rz01: rz('sh-1', '4-6', ['rz00']),
      rz02: rz('sz-1', '7-9', ['rz01']),
      // Every map has one GZone (unshardable data); it fails over nowhere, so no plan here touches hz.
      gz00: {
        kind: 'gzone',
        idc: 'hz-1',
        status: 'up',
        failover: [],
        upstreams: { http: { blue: ['127.0.0.1:1'], green: ['127.0.0.1:1'] } },
      },
    },
  };
}
