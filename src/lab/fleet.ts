/**
 * The lab's fleet on this machine: Redis, one mosquitto per RZone, one demo app per zone and
 * colour (in this process), gateways per IDC as `zonegate start` child processes with HTTP,
 * MQTT and admin listeners, and a delaying relay in front of each gateway for the cross-IDC
 * hop (the map lists the relays as the IDC's peer gateways).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoUpstreams, type DemoUpstreams } from '../gateway/demo-upstreams.js';
import type { ZoneMapDoc } from '../zonemap/index.js';
import { RedisZoneMapStore, writeZoneMap, type ZoneMapStore } from '../zonemap/stores/index.js';
import {
  freePort,
  ProcessGroups,
  startMosquitto,
  startRedis,
  waitForPort,
  type LabProcess,
} from './processes.js';
import { startRelay, type Relay } from './relay.js';

export interface FleetOptions {
  readonly map: ZoneMapDoc;
  readonly gatewaysPerIdc: number;
  /** One-way delay added to every cross-IDC hop, ms. */
  readonly interIdcDelayMs: number;
  /** How to run `zonegate`: node arguments before `start -c FILE`. */
  readonly zonegate: readonly string[];
  readonly log: (line: string) => void;
}

export interface LabGateway {
  readonly id: string;
  readonly idc: string;
  readonly city: string;
  readonly httpPort: number;
  readonly mqttPort: number;
}

export interface Fleet {
  readonly redisUrl: string;
  readonly store: ZoneMapStore;
  readonly gateways: readonly LabGateway[];
  readonly upstreams: DemoUpstreams;
  readonly doc: ZoneMapDoc;
  close(): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const dir = await mkdtemp(join(tmpdir(), 'zonegate-lab-'));
  const groups = new ProcessGroups();
  const relays: Relay[] = [];
  let upstreams: DemoUpstreams | null = null;
  let store: ZoneMapStore | null = null;
  // Whatever happens, a dying lab takes its processes with it.
  const onExit = (): void => groups.killAllNow();
  process.on('exit', onExit);
  const close = async (): Promise<void> => {
    await groups.stopAll();
    for (const r of relays) await r.close();
    await upstreams?.close();
    await store?.close().catch(() => undefined);
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const redis = await startRedis(groups, dir);
    o.log(`redis ${redis.url}`);
    upstreams = await startDemoUpstreams(o.map);
    const doc = upstreams.doc as Mutable<ZoneMapDoc>;
    for (const [name, z] of Object.entries(doc.zones)) {
      if (z.kind !== 'rzone') continue;
      const broker = await startMosquitto(groups, dir, name);
      z.upstreams = { ...(z.upstreams ?? {}), mqtt: [broker] };
    }
    o.log(`${Object.keys(doc.zones).length} zones: demo apps (blue + green) and a mosquitto per RZone`);

    const gateways: Mutable<LabGateway>[] = [];
    /** Where each gateway's relay forwards (its HTTP port, which may be picked again below). */
    const relayTargets = new Map<string, { host: string; port: number }>();
    const idcs: Record<string, { status?: 'up' | 'drain' | 'down'; gateways: string[] }> = {};
    const cityOf = new Map<string, string>();
    for (const [city, c] of Object.entries(doc.cities)) for (const idc of c.idcs) cityOf.set(idc, city);
    for (const idc of cityOf.keys()) {
      idcs[idc] = {
        ...(doc.idcs?.[idc]?.status === undefined ? {} : { status: doc.idcs[idc].status }),
        gateways: [],
      };
      for (let i = 0; i < o.gatewaysPerIdc; i++) {
        const gw: Mutable<LabGateway> = {
          id: `${idc}-gw${i}`,
          idc,
          city: cityOf.get(idc) ?? '',
          httpPort: await freePort(),
          mqttPort: await freePort(),
        };
        gateways.push(gw);
        const target = { host: '127.0.0.1', port: gw.httpPort };
        relayTargets.set(gw.id, target);
        const relay = await startRelay(target, o.interIdcDelayMs);
        relays.push(relay);
        idcs[idc].gateways.push(relay.address);
      }
    }
    doc.idcs = idcs;
    doc.version = 1;
    store = await RedisZoneMapStore.open({ url: redis.url, connectTimeoutMs: 2000 }, 'zonegate-lab');
    await writeZoneMap(store, doc, null, {
      who: 'zonegate-lab',
      reason: 'lab start',
      action: 'lab seed',
      summary: 'first map',
    });

    /** Write a gateway's config for its current ports and start it. */
    const spawnGateway = async (gw: LabGateway): Promise<LabProcess> => {
      const cfg = join(dir, `${gw.id}.json`);
      await writeFile(
        cfg,
        JSON.stringify({
          idc: gw.idc,
          crossIdc: 'gateway',
          listeners: [
            { name: 'http', protocol: 'http', host: '127.0.0.1', port: gw.httpPort },
            { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: gw.mqttPort },
          ],
          zonemap: {
            redis: {
              url: redis.url,
              snapshotFile: join(dir, `${gw.id}-snapshot.json`),
              reportIntervalMs: 500,
            },
          },
          identity: {
            cookie: {
              keys: [{ id: 'lab', secret: 'zonegate-lab-cookie-secret-0123456789' }],
              secure: false,
            },
          },
          admin: { enabled: true, host: '127.0.0.1', port: 0 },
          drain: { delayMs: 0, timeoutMs: 3000 },
          logging: { level: 'warn' },
        }),
      );
      return groups.spawn(`gateway ${gw.id}`, process.execPath, [...o.zonegate, 'start', '-c', cfg]);
    };
    await Promise.all(
      gateways.map(async (gw) => {
        // A port found free can be taken before the gateway binds it (any socket on this
        // machine may get it, an outgoing connection's included): then both are picked again.
        for (let attempt = 1; ; attempt++) {
          const p = await spawnGateway(gw);
          try {
            await waitForPort(p, gw.httpPort, 30_000);
            await waitForPort(p, gw.mqttPort, 30_000);
            return;
          } catch (err) {
            if (attempt >= 5 || !p.output().includes('EADDRINUSE')) throw err;
            o.log(`${gw.id}: a port was taken before it listened; trying other ports`);
            gw.httpPort = await freePort();
            gw.mqttPort = await freePort();
            relayTargets.get(gw.id)!.port = gw.httpPort;
          }
        }
      }),
    );
    o.log(
      `${gateways.length} gateways (${o.gatewaysPerIdc} per IDC), cross-IDC hops delayed ${o.interIdcDelayMs} ms each way`,
    );
    return { redisUrl: redis.url, store, gateways, upstreams, doc, close };
  } catch (err) {
    await close();
    throw err;
  }
}
