/**
 * `zonegate config check -c FILE` (like `nginx -t`, `haproxy -c`): everything `start` would
 * load, loaded the same way, without binding a port or starting a listener. Every problem is
 * collected, not just the first, so one run tells an operator all there is to fix.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { loadConfigFile, type GatewayConfig } from '../core/config.js';
import { InvalidConfigError, InvalidZoneMapError, ZonegateError, formatProblem } from '../core/errors.js';
import { loadCookieKeyring } from '../identity/index.js';
import { loadTls } from '../listeners/tls-context.js';
import { loadZoneMapFile, type CompiledZoneMap } from '../zonemap/index.js';
import { checkIdcInMap } from './gateway.js';

/** One thing checked: what it is, and either what was found or why it failed. */
export interface CheckItem {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ConfigCheckReport {
  readonly config: string;
  readonly ok: boolean;
  /** `file` or `redis`: where this gateway's zone map comes from; null when the config is invalid. */
  readonly zonemapSource: 'file' | 'redis' | null;
  readonly items: readonly CheckItem[];
}

function message(err: unknown): string {
  if (err instanceof InvalidZoneMapError || err instanceof InvalidConfigError) {
    return err.problems.map(formatProblem).join('; ');
  }
  return err instanceof ZonegateError ? `${err.message} [${err.code}]` : (err as Error).message;
}

async function item(what: string, check: () => Promise<string>): Promise<CheckItem> {
  try {
    return { what, ok: true, detail: await check() };
  } catch (err) {
    return { what, ok: false, detail: message(err) };
  }
}

export async function checkConfigFile(path: string): Promise<ConfigCheckReport> {
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(path);
  } catch (err) {
    const items =
      err instanceof InvalidConfigError
        ? err.problems.map((p) => ({ what: 'config', ok: false, detail: formatProblem(p) }))
        : [{ what: 'config', ok: false, detail: message(err) }];
    return { config: path, ok: false, zonemapSource: null, items };
  }
  const items: CheckItem[] = [
    {
      what: 'config',
      ok: true,
      detail: `idc ${config.idc}, listeners ${config.listeners.map((l) => `${l.name} (${l.protocol} ${l.host}:${l.port})`).join(', ')}`,
    },
  ];
  items.push(await zoneMapItem(config));
  for (const l of config.listeners) {
    const tls = l.tls;
    if (tls === undefined) continue;
    items.push(
      await item(`listener ${l.name} tls`, async () => {
        const loaded = await loadTls(tls, l.name);
        return `certificate ${tls.cert}${loaded.sni.length > 0 ? `, ${loaded.sni.length} SNI certificate(s)` : ''}${tls.ca === undefined ? '' : `, client CA ${tls.ca}`}`;
      }),
    );
  }
  if (config.identity.cookie.keys.length > 0) {
    items.push(
      await item('cookie keys', async () => {
        await loadCookieKeyring(config.identity.cookie);
        return `${config.identity.cookie.keys.length} key(s), ${config.identity.cookie.keys[0]?.id ?? ''} signs`;
      }),
    );
  }
  const admin = config.admin;
  if (admin.enabled && admin.tokenFile !== undefined) {
    const file = admin.tokenFile;
    items.push(
      await item('admin token', async () => {
        // What the admin server does on every write: the trimmed text is the token.
        if ((await readFile(file, 'utf8')).trim() === '') throw new Error(`${file} is empty`);
        return `${file} is readable`;
      }),
    );
  }
  if (admin.enabled && admin.tls !== undefined) {
    const t = admin.tls;
    items.push(
      await item('admin tls', async () => {
        const [cert, key, ca] = await Promise.all([
          readFile(t.cert),
          readFile(t.key),
          t.ca === undefined ? undefined : readFile(t.ca),
        ]);
        createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
        return `certificate ${t.cert}`;
      }),
    );
  }
  return {
    config: path,
    ok: items.every((i) => i.ok),
    zonemapSource: config.zonemap.redis === undefined ? 'file' : 'redis',
    items,
  };
}

function mapSummary(map: CompiledZoneMap, idc: string): string {
  checkIdcInMap(idc, map);
  return `version ${map.version}, ${map.shards} shards, ${map.zones.length} zones; idc ${idc} is in it`;
}

async function zoneMapItem(config: GatewayConfig): Promise<CheckItem> {
  const redis = config.zonemap.redis;
  if (redis === undefined) {
    const file = config.zonemap.file ?? '';
    return item(`zone map file ${file}`, async () => mapSummary(await loadZoneMapFile(file), config.idc));
  }
  const { describeRedisStore, RedisZoneMapStore, decodeStoredMap } =
    await import('../zonemap/stores/index.js');
  const { compileZoneMap } = await import('../zonemap/index.js');
  return item(`zone map in redis ${describeRedisStore(redis)}`, async () => {
    const store = await RedisZoneMapStore.open(redis, 'zonegate-config-check');
    try {
      const raw = await store.readRaw();
      if (raw.json === null)
        throw new Error('reachable, but it holds no zone map yet (zonegate map apply FILE)');
      const map = compileZoneMap(decodeStoredMap(raw.version, raw.json, `zone map in ${store.description}`));
      return `reachable; ${mapSummary(map, config.idc)}`;
    } finally {
      await store.close();
    }
  });
}
