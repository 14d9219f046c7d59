/**
 * Dialling a zone's brokers for a session, in a stable order: a uid always starts at the same
 * broker, so its persistent session stays put. Used to open the first session and each move.
 */
import { fnv1a32 } from '../router/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import { moveConnect } from './connect.js';
import type { MqttConnection } from './connection.js';
import { UpstreamLink } from './upstream-link.js';

/** Open a link to the zone's brokers, starting at the uid's broker (stable: same broker, same session). */
export function openLink(c: MqttConnection, map: CompiledZoneMap, zoneName: string): boolean {
  const zi = map.zoneIndex.get(zoneName);
  const brokers = zi === undefined ? [] : (map.zones[zi]?.upstreams.mqtt ?? []);
  if (brokers.length === 0) return false;
  const uid = c.identity?.uid ?? null;
  const start = uid === null ? Math.floor(c.ctx.random() * brokers.length) : fnv1a32(uid) % brokers.length;
  c.candidates = brokers;
  c.firstCandidate = start;
  c.tried = 0;
  c.targetZone = zoneName;
  dialNext(c);
  return true;
}

export function dialNext(c: MqttConnection): void {
  const address = c.candidates[(c.firstCandidate + c.tried++) % c.candidates.length] as string;
  const t = c.ctx.config.timeouts;
  const link = new UpstreamLink(
    c,
    c.targetZone,
    address,
    c.ctx.config.limits.maxPacketBytes,
    c.version,
    c.ctx.clock,
    c.ctx.clock + t.upstreamConnectTimeoutMs,
  );
  const connect = c.connectFrame as Buffer;
  link.write(c.phase === 'relay' ? moveConnect(connect, c.persistent) : connect);
  // Not paused by the client's backpressure: its CONNACK and SUBACKs must be read for a
  // client with a full window to move (connection.ts applyLinkPause).
  c.next = link;
}
