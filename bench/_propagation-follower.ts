/**
 * One stand-in gateway for bench/propagation.ts: follows the map in Redis with the real
 * RedisZoneMapSource, swaps it into a ZoneMapHolder and routes a probe uid with the real
 * router, exactly as the gateway does on each 'map' event. Prints one JSON line per map:
 * `{"version":N,"zone":"rz01","t":epochMs}` where t is taken after the probe decision.
 *
 * Usage: node --import tsx bench/_propagation-follower.ts --redis URL --id ID [--uid UID]
 */
import { parseArgs } from 'node:util';
import { decide } from '../src/router/index.js';
import { ZoneMapHolder } from '../src/zonemap/index.js';
import { RedisZoneMapSource } from '../src/zonemap/stores/index.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    id: { type: 'string' },
    uid: { type: 'string' },
    idc: { type: 'string' },
  },
});
const url = values.redis ?? '';
const id = values.id ?? `follower-${process.pid}`;
const uid = values.uid ?? '35';
const self = { idc: values.idc ?? 'hz-1', crossIdc: 'direct' } as const;
const now = (): number => performance.timeOrigin + performance.now();

const source = new RedisZoneMapSource({ redis: { url }, idc: self.idc, gatewayId: id });
const holder = new ZoneMapHolder(await source.start());
source.on('map', (m) => {
  holder.swap(m);
  const d = decide({ uid, source: 'header' }, 'rzone', holder.current, self);
  process.stdout.write(`${JSON.stringify({ version: holder.current.version, zone: d.zone, t: now() })}\n`);
});
source.on('error', (e) => process.stderr.write(`${id}: ${e.message}\n`));
process.stdout.write(`${JSON.stringify({ ready: true, version: holder.current.version })}\n`);
const stop = (): void => {
  source.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
