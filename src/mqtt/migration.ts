/**
 * Moving a client's session to another broker under it (transparent migration), as plain
 * functions of the connection: nothing here is allocated per packet or per connection.
 *
 * The state kept to move a client lives in session-state.ts. A move is make-before-break: the
 * new session is opened and subscribed while the old one still delivers; at the new broker's
 * last SUBACK (and, in a batch, once every member is that far: move-batch.ts) the client's
 * packets switch over and the unacknowledged ones are resent (DUP set, §4.4). The gateway's
 * own SUBSCRIBE/UNSUBSCRIBE reach the new broker before any client packet and are
 * acknowledged before the switch, so they never share the client's packet id space.
 *
 * The old session is then drained, not dropped: it stays subscribed, what its broker delivers
 * is relayed and the client's acknowledgements go back to it, until it has nothing left for
 * the client (drainStep); its acks to client packets are dropped (those packets were resent
 * and the new broker acknowledges them). Bounded in time and messages, counted either way.
 */
import type { ZonegateError } from '../core/errors.js';
import { decide, type Identity } from '../router/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import { leaveDisconnect, serverDisconnect } from './disconnect.js';
import { MqttMigrationFailedError } from './errors.js';
import * as T from './packet-type.js';
import { PAUSE_DRAIN } from './pause.js';
import { ackFrame } from './publish.js';
import type { MoveFailure, RelayHost } from './relay-host.js';
import { upRun } from './relay-runs.js';
import { unsubscribePacket } from './unsubscribe.js';
import type { DrainEnd, UpstreamLink } from './upstream-link.js';

/**
 * Re-decide after a zone map change. Returns the delay (ms) after which to move, or -1 when
 * this connection stays where it is.
 */
export function reconsider(c: RelayHost, next: CompiledZoneMap): number {
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
    c.setMoveCause('drain');
    return Math.floor(c.ctx.random() * c.ctx.config.migration.drainWindowMs) + 1;
  }
  c.setMoveCause(zone?.live === true ? 'rebalance' : 'down');
  return 0;
}

/** Movable: called by the scheduler when a token is available. */
export function runMove(c: RelayHost): boolean {
  if (c.phase !== 'relay' || c.moving) return false;
  if (c.ctx.draining) {
    // The gateway is leaving service: clients reconnect (through LVS) to other gateways.
    c.setMoveCause('shutdown');
    tellToReconnect(c, 'gateway-drain');
    return true;
  }
  const map = c.ctx.holder.current;
  if (reconsider(c, map) < 0) {
    // No longer needed; a session that lost its broker while queued cannot stay.
    c.leaveBatch();
    if (c.current === null) c.teardown('broker-lost', null);
    return false;
  }
  const d = decide(c.identity as Identity, 'rzone', map, c.ctx.self, c.ctx.random);
  if (!d.ok || c.ctx.config.migration.mode === 'disconnect') {
    tellToReconnect(c, d.ok ? 'moved' : 'no-live-zone');
    return true;
  }
  if (!c.beginMove(d, map)) {
    moveFailed(c, null, new MqttMigrationFailedError(`zone ${d.zone} lists no mqtt upstream`), 'no-broker');
  }
  return true;
}

/** A move: the new session is open; prepare it, then switch. */
export function sessionOpened(c: RelayHost, link: UpstreamLink, code: number): boolean {
  if (code !== 0) {
    moveFailed(
      c,
      link,
      new MqttMigrationFailedError(`broker ${link.address} refused the session (0x${code.toString(16)})`),
      'refused',
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
export function syncOrSwitch(c: RelayHost, link: UpstreamLink): void {
  const synced = link.synced as Map<string, string>;
  if (link.syncedVersion === c.session.subsVersion) {
    prepared(c, link);
    return;
  }
  link.syncedVersion = c.session.subsVersion;
  const injected = link.injected as Set<number>;
  for (const p of c.session.syncPackets(synced, c.version)) {
    injected.add(p.id);
    c.linkWrite(link, p.frame);
  }
  if (injected.size === 0) prepared(c, link);
}

/**
 * The new session is subscribed. A member of a batch waits for the others while its old
 * broker still serves it (nothing gained by waiting once that broker is gone).
 */
function prepared(c: RelayHost, link: UpstreamLink): void {
  if (c.batchPrepared()) switchTo(c, link);
}

/**
 * The batch released a waiting member, or its own move deadline ran out while waiting. One
 * whose re-subscription is under way again switches at its SUBACK (prepared()).
 */
export function switchWaiting(c: RelayHost): void {
  const link = c.next;
  if (c.phase !== 'relay' || link === null || link.state !== 'preparing') return;
  if (link.injected?.size !== 0 || link.syncedVersion !== c.session.subsVersion) return;
  switchTo(c, link);
}

/** The new session is ready: the client's packets go there from now on. */
function switchTo(c: RelayHost, link: UpstreamLink): void {
  const old = c.current;
  const batch = c.batch;
  const from = c.zone;
  link.state = 'current';
  link.deadline = 0;
  link.injected = null;
  link.synced = null;
  c.adoptSession(link);
  // Resend what the client has not seen acknowledged, in the order it was sent (§4.6).
  upRun.flush();
  link.socket.cork();
  c.session.resend((f) => link.write(f));
  link.socket.uncork();
  if (old !== null) startDrain(c, old, from, batch);
  // From now on this link is the client's session: the client's backpressure applies to it.
  c.applyLinkPause(link);
  c.setClientPause(PAUSE_DRAIN, link.socket.writableNeedDrain);
  c.moveEnded('ok', 'none');
  // The map may have changed again while this move was under way.
  const again = reconsider(c, c.ctx.holder.current);
  if (again >= 0) c.requeue(again);
}

/**
 * The old session stays subscribed and relayed: what its broker queued for the client
 * (beyond the in-flight window, or published there by clients not moved yet) still reaches
 * it, and the client's acknowledgements go back there. drainStep() ends it.
 */
function startDrain(
  c: RelayHost,
  link: UpstreamLink,
  zone: string | null,
  batch: { readonly unswitched: number } | null,
): void {
  const now = c.ctx.clock;
  link.state = 'draining';
  link.drainOpen = true;
  link.drainZone = zone ?? link.zone;
  link.drainStartedAt = now;
  link.lastActivity = now;
  link.deadline = now + c.ctx.config.timeouts.migrationDrainMaxMs;
  link.drainFilters = c.session.filters();
  link.unsubscribeId = c.session.unusedOutgoingId();
  link.batch = batch;
  c.addLeaving(link);
  // A paused old link must still read (its broker's acknowledgements of our UNSUBSCRIBE).
  c.applyLinkPause(link);
}

/**
 * Called by the sweep for each old link. A drain ends when the old session has nothing left
 * for the client: the client acknowledged everything it delivered, its broker stayed quiet
 * for `migrationDrainQuietMs`, and every member of the move's batch switched. Then it is
 * unsubscribed (nothing new is added to it, §3.10.4) and the same wait repeats, so what the
 * broker queued before the UNSUBACK is fetched too; then DISCONNECT.
 */
export function drainStep(c: RelayHost, link: UpstreamLink, now: number): void {
  if (link.state !== 'draining') {
    if (now > link.deadline) dropLeaving(c, link);
    return;
  }
  if (now > link.deadline) {
    endDrain(c, link, 'time-limit');
    return;
  }
  if (link.unacked > 0 || link.held > 0) return;
  if (now - link.lastActivity < c.ctx.config.timeouts.migrationDrainQuietMs) return;
  if (link.batch !== null && link.batch.unswitched > 0) return;
  if (link.unsubscribeSentAt === 0) {
    link.unsubscribeSentAt = now;
    const filters = link.drainFilters ?? [];
    if (filters.length > 0) {
      c.linkWrite(link, unsubscribePacket(filters, link.unsubscribeId, c.version));
      link.lastActivity = now;
      return;
    }
    link.unsubscribed = true;
  }
  if (link.unsubscribed) endDrain(c, link, 'empty');
}

/** A PUBLISH from an old session: counted; beyond the bound the drain is abandoned. Returns false then. */
export function drainedOne(c: RelayHost, link: UpstreamLink): boolean {
  link.drained++;
  if (link.drained <= c.ctx.config.limits.migrationDrainMessages) return true;
  endDrain(c, link, 'message-limit');
  return false;
}

/**
 * End the drain of an old session and count it. An emptied session is ended (MQTT 5: Session
 * Expiry 0, allowed when the CONNECT's was non-zero, §3.14.2.2.2); one that may still hold
 * messages for the client is left to expire as the client asked (§3.1.2.11.2): DISCONNECT
 * "Normal disconnection", so the Will is not published there (§3.14.4).
 */
export function endDrain(c: RelayHost, link: UpstreamLink, end: DrainEnd): void {
  if (!link.drainOpen) return;
  link.drainOpen = false;
  c.drainEnded(link, end, c.ctx.clock - link.drainStartedAt);
  if (end !== 'empty') {
    c.ctx.logger.warn(
      {
        zone: link.drainZone,
        upstream: link.address,
        reason: end,
        drained: link.drained,
        unacknowledged: link.unacked,
      },
      'mqtt drain of an old session abandoned',
    );
  }
  link.batch = null;
  if (end === 'broker-lost') {
    dropLeaving(c, link);
    return;
  }
  link.state = 'leaving';
  link.write(leaveDisconnect(c.version, c.persistent, end === 'empty'));
  link.socket.end();
  link.deadline = c.ctx.clock + c.ctx.config.timeouts.migrationLingerMs;
}

export function dropLeaving(c: RelayHost, link: UpstreamLink): void {
  if (!c.removeLeaving(link)) return;
  link.destroy();
  // QoS 2 deliveries whose PUBREL that broker will now never send: the gateway sends it (§4.3.3).
  if (c.phase === 'relay') {
    for (const gwId of c.session.orphanedReleases(link)) c.toClient(ackFrame(T.PUBREL, gwId));
  }
}

/** An old link failed or closed: a drain under way is abandoned (what its broker still held is lost to the client). */
export function oldLinkLost(c: RelayHost, link: UpstreamLink): void {
  if (link.drainOpen) endDrain(c, link, 'broker-lost');
  else dropLeaving(c, link);
}

/**
 * The current broker went away. While a move of this connection is under way or queued to
 * run at once (the usual case in a failover: the zone went down with its broker), the client
 * waits for the new session and its unacknowledged packets are resent there. Otherwise the client is closed as
 * the broker closed it: re-opening on our own could fight a session takeover (§3.1.4-3).
 */
export function brokerLost(c: RelayHost, link: UpstreamLink, error: ZonegateError): void {
  c.ctx.stats.brokersLost++;
  link.destroy();
  c.dropCurrent();
  // Waiting for a move due now (not one spread over a drain window) is worth it.
  if (c.moving || (c.moveQueued && c.moveDue === 0)) return;
  c.ctx.logger.warn({ code: error.code, zone: c.zone, upstream: link.address }, 'mqtt broker lost');
  c.teardown('broker-lost', null);
}

export type { MoveFailure } from './relay-host.js';

export function moveFailed(
  c: RelayHost,
  link: UpstreamLink | null,
  error: ZonegateError,
  reason: MoveFailure,
): void {
  if (link !== null) link.destroy();
  c.abandonMove();
  c.ctx.logger.warn({ code: error.code, zone: c.zone, reason }, `mqtt move failed: ${error.message}`);
  c.moveEnded('failed', reason);
  tellToReconnect(c, 'move-failed');
}

/**
 * Fallback: MQTT 5 clients get DISCONNECT 0x9C "Use another server" or 0x9D "Server moved"
 * with the configured Server Reference (§4.11); 3.1.1 has no such packet, the connection closes.
 */
export function tellToReconnect(c: RelayHost, why: string): void {
  if (c.phase === 'closed') return;
  const m = c.ctx.config.migration;
  const code = m.disconnectReason === 'server-moved' ? 0x9d : 0x9c;
  if (why !== 'move-failed') c.moveEnded('disconnected', 'none');
  c.teardown(why, c.version === 5 ? serverDisconnect(code, m.serverReference) : null);
}
