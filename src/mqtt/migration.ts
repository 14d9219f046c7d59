/**
 * Moving a client's session to another broker under it (transparent migration), as plain
 * functions of the connection: nothing here is allocated per packet or per connection.
 *
 * The state kept to move a client lives in session-state.ts. A move is make-before-break: the
 * new session is opened and subscribed while the old one still delivers; at the new broker's
 * last SUBACK the client's packets switch over and the unacknowledged ones are resent (DUP
 * set, §4.4). The gateway's own SUBSCRIBE/UNSUBSCRIBE reach the new broker before any client
 * packet and are acknowledged before the switch, so they never share the client's packet id
 * space. The old broker gets DISCONNECT and may deliver what it had in flight until it closes
 * (its acks to client packets are dropped: those packets were resent and the new broker
 * acknowledges them).
 */
import type { ZonegateError } from '../core/errors.js';
import { decide, type Identity } from '../router/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import { openLink } from './broker-dial.js';
import type { MqttConnection } from './connection.js';
import { leaveDisconnect, serverDisconnect } from './disconnect.js';
import { MqttMigrationFailedError } from './errors.js';
import * as T from './packet-type.js';
import { PAUSE_DRAIN } from './pause.js';
import { ackFrame } from './publish.js';
import { upRun } from './relay-runs.js';
import type { UpstreamLink } from './upstream-link.js';

/**
 * Re-decide after a zone map change. Returns the delay (ms) after which to move, or -1 when
 * this connection stays where it is.
 */
export function reconsider(c: MqttConnection, next: CompiledZoneMap): number {
  if (c.phase !== 'relay' || c.identity === null) return -1;
  const current = c.zone === null ? undefined : next.zoneIndex.get(c.zone);
  const zone = current === undefined ? undefined : next.zones[current];
  if (c.identity.uid === null && zone?.live === true) return -1;
  const d = decide(c.identity, 'rzone', next, c.ctx.self, c.ctx.random);
  const address = c.current?.address;
  if (d.ok && d.zone === c.zone && address !== undefined && zone?.upstreams.mqtt.includes(address) === true) {
    return -1;
  }
  if (zone?.effectiveStatus === 'drain') {
    c.moveCause = 'drain';
    return Math.floor(c.ctx.random() * c.ctx.config.migration.drainWindowMs) + 1;
  }
  c.moveCause = zone?.live === true ? 'rebalance' : 'down';
  return 0;
}

/** Movable: called by the scheduler when a token is available. */
export function runMove(c: MqttConnection): boolean {
  if (c.phase !== 'relay' || c.moving) return false;
  if (c.ctx.draining) {
    // The gateway is leaving service: clients reconnect (through LVS) to other gateways.
    c.moveCause = 'shutdown';
    tellToReconnect(c, 'gateway-drain');
    return true;
  }
  const map = c.ctx.holder.current;
  if (reconsider(c, map) < 0) {
    // No longer needed; a session that lost its broker while queued cannot stay.
    if (c.current === null) c.teardown('broker-lost', null);
    return false;
  }
  const d = decide(c.identity as Identity, 'rzone', map, c.ctx.self, c.ctx.random);
  if (!d.ok || c.ctx.config.migration.mode === 'disconnect') {
    tellToReconnect(c, d.ok ? 'moved' : 'no-live-zone');
    return true;
  }
  c.moving = true;
  c.reason = d.reason;
  c.colour = d.colour;
  if (!openLink(c, map, d.zone)) {
    moveFailed(c, null, new MqttMigrationFailedError(`zone ${d.zone} lists no mqtt upstream`));
  }
  return true;
}

/** A move: the new session is open; prepare it, then switch. */
export function sessionOpened(c: MqttConnection, link: UpstreamLink, code: number): boolean {
  if (code !== 0) {
    moveFailed(
      c,
      link,
      new MqttMigrationFailedError(`broker ${link.address} refused the session (0x${code.toString(16)})`),
    );
    return false;
  }
  link.state = 'preparing';
  link.deadline = c.ctx.clock + c.ctx.config.timeouts.migrationTimeoutMs;
  link.synced = new Map<string, string>();
  link.injected = new Set();
  syncOrSwitch(c, link);
  return true;
}

/**
 * Bring the new broker's subscriptions to the client's current set (it may change while the
 * new session is prepared), then switch. The gateway's packet ids here are never seen by the
 * client and are all acknowledged before any client packet reaches this broker.
 */
export function syncOrSwitch(c: MqttConnection, link: UpstreamLink): void {
  const synced = link.synced as Map<string, string>;
  if (link.syncedVersion === c.session.subsVersion) {
    switchTo(c, link);
    return;
  }
  link.syncedVersion = c.session.subsVersion;
  const injected = link.injected as Set<number>;
  for (const p of c.session.syncPackets(synced, c.version)) {
    injected.add(p.id);
    c.linkWrite(link, p.frame);
  }
  if (injected.size === 0) switchTo(c, link);
}

/** The new session is ready: the client's packets go there from now on. */
function switchTo(c: MqttConnection, link: UpstreamLink): void {
  const old = c.current;
  c.next = null;
  link.state = 'current';
  link.deadline = 0;
  link.injected = null;
  link.synced = null;
  c.current = link;
  c.lastUpstream = link.address;
  c.zone = link.zone;
  c.moving = false;
  // Resend what the client has not seen acknowledged, in the order it was sent (§4.6).
  upRun.flush();
  link.socket.cork();
  c.session.resend((f) => link.write(f));
  link.socket.uncork();
  if (old !== null) leave(c, old);
  c.setClientPause(PAUSE_DRAIN, link.socket.writableNeedDrain);
  c.ctx.moveFinished(c, 'ok');
  // The map may have changed again while this move was under way.
  const again = reconsider(c, c.ctx.holder.current);
  if (again >= 0) c.ctx.scheduler.enqueue(c, again);
}

/** DISCONNECT the old broker; keep reading what it still had in flight for a while. */
function leave(c: MqttConnection, link: UpstreamLink): void {
  link.state = 'leaving';
  c.linkWrite(link, leaveDisconnect(c.version, c.persistent));
  link.socket.end();
  link.deadline = c.ctx.clock + c.ctx.config.timeouts.migrationLingerMs;
  (c.leaving ??= []).push(link);
}

export function dropLeaving(c: MqttConnection, link: UpstreamLink): void {
  if (c.leaving === null) return;
  const i = c.leaving.indexOf(link);
  if (i >= 0) c.leaving.splice(i, 1);
  if (c.leaving.length === 0) c.leaving = null;
  link.destroy();
  // QoS 2 deliveries whose PUBREL that broker will now never send: the gateway sends it (§4.3.3).
  if (c.phase === 'relay') {
    for (const gwId of c.session.orphanedReleases(link)) c.toClient(ackFrame(T.PUBREL, gwId));
  }
}

/**
 * The current broker went away. While a move of this connection is under way or queued to
 * run at once (the usual case in a failover: the zone went down with its broker), the client
 * waits for the new session and its unacknowledged packets are resent there. Otherwise the client is closed as
 * the broker closed it: re-opening on our own could fight a session takeover (§3.1.4-3).
 */
export function brokerLost(c: MqttConnection, link: UpstreamLink, error: ZonegateError): void {
  c.ctx.stats.brokersLost++;
  link.destroy();
  c.current = null;
  // Waiting for a move due now (not one spread over a drain window) is worth it.
  if (c.moving || (c.moveQueued && c.moveDue === 0)) return;
  c.ctx.logger.warn({ code: error.code, zone: c.zone, upstream: link.address }, 'mqtt broker lost');
  c.teardown('broker-lost', null);
}

export function moveFailed(c: MqttConnection, link: UpstreamLink | null, error: ZonegateError): void {
  if (link !== null) link.destroy();
  if (c.next !== null && c.next !== link) c.next.destroy();
  c.next = null;
  c.moving = false;
  c.ctx.logger.warn({ code: error.code, zone: c.zone }, `mqtt move failed: ${error.message}`);
  c.ctx.moveFinished(c, 'failed');
  tellToReconnect(c, 'move-failed');
}

/**
 * Fallback: MQTT 5 clients get DISCONNECT 0x9C "Use another server" or 0x9D "Server moved"
 * with the configured Server Reference (§4.11); 3.1.1 has no such packet, the connection closes.
 */
export function tellToReconnect(c: MqttConnection, why: string): void {
  if (c.phase === 'closed') return;
  const m = c.ctx.config.migration;
  const code = m.disconnectReason === 'server-moved' ? 0x9d : 0x9c;
  if (why !== 'move-failed') c.ctx.moveFinished(c, 'disconnected');
  c.teardown(why, c.version === 5 ? serverDisconnect(code, m.serverReference) : null);
}
