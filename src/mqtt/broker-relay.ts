/**
 * Broker -> client relay: every frame from any of a client's links (current, next, leaving).
 * Broker packet ids of QoS 1/2 deliveries are swapped for the gateway's own, so deliveries from
 * two brokers never collide; during a move the new broker's answers to the gateway's own
 * SUBSCRIBE/UNSUBSCRIBE drive the switch (migration.ts).
 */
import { decodePacket } from './codec.js';
import { MqttMalformedPacketError, MqttMigrationFailedError, MqttProtocolError } from './errors.js';
import { drainedOne, moveFailed, oldLinkLost, syncOrSwitch } from './migration.js';
import * as T from './packet-type.js';
import { PAUSE_WINDOW } from './pause.js';
import { ackFrame, ackId, publishIdOffset, publishQos, topicEnd } from './publish.js';
import type { RelayHost } from './relay-host.js';
import { downRun } from './relay-runs.js';
import type { Delivery } from './session-state.js';
import type { UpstreamLink } from './upstream-link.js';

export function relayFromBroker(c: RelayHost, link: UpstreamLink, frame: Buffer, hl: number): boolean {
  if (c.phase === 'closed') return false;
  const first = frame[0] as number;
  const type = first >> 4;
  if (link.state === 'connecting') {
    if (type !== T.CONNACK)
      return c.linkBroken(link, new MqttProtocolError('broker sent a packet before CONNACK'));
    return c.onBrokerConnack(link, frame);
  }
  switch (type) {
    case T.PUBLISH: {
      const qos = publishQos(first);
      let at = -1;
      if (qos > 0) {
        const te = topicEnd(frame, hl);
        at = te < 0 ? -1 : publishIdOffset(frame, te);
        if (at < 0) return c.linkBroken(link, new MqttMalformedPacketError('PUBLISH from broker too short'));
      }
      let more = true;
      if (link.state === 'draining') {
        link.lastActivity = c.ctx.clock;
        c.ctx.stats.drainedMessages++;
        more = drainedOne(c, link);
      }
      if (c.mustHold(qos)) c.hold(link, frame, at);
      else deliverPublish(c, link, frame, at);
      return more;
    }
    case T.PUBACK:
    case T.PUBCOMP: {
      if (link !== c.current) return true;
      if (c.session.acknowledged(ackId(frame, hl))) outgoingShrunk(c);
      c.toClient(frame);
      return true;
    }
    case T.PUBREC: {
      if (link !== c.current) return true;
      if (c.session.received(ackId(frame, hl))) c.toClient(frame);
      return true;
    }
    case T.PUBREL: {
      // Broker -> client QoS 2, step 3: find our id for the broker's.
      const brokerId = ackId(frame, hl);
      const gwId = c.session.findDelivery(link, brokerId);
      if (gwId < 0) {
        // Unknown here: complete it towards the broker so its flow ends (§4.3.3).
        if (link.live) c.linkWrite(link, ackFrame(T.PUBCOMP, brokerId));
        return true;
      }
      (c.session.delivery(gwId) as Delivery<UpstreamLink>).state = 2;
      frame.writeUInt16BE(gwId, hl);
      c.toClient(frame);
      return true;
    }
    case T.SUBACK:
    case T.UNSUBACK: {
      const id = ackId(frame, hl);
      if (
        type === T.UNSUBACK &&
        link.state === 'draining' &&
        link.unsubscribeSentAt > 0 &&
        id === link.unsubscribeId
      ) {
        // The old session adds nothing more; what it queued before still comes (drainStep).
        link.unsubscribed = true;
        link.lastActivity = c.ctx.clock;
        return true;
      }
      if (link.injected?.delete(id) === true) {
        if (type === T.SUBACK && !injectedSubackOk(c, frame)) {
          moveFailed(
            c,
            link,
            new MqttMigrationFailedError(`broker ${link.address} refused the re-subscription`),
            'resubscribe-refused',
          );
          return false;
        }
        if (link.injected.size === 0) syncOrSwitch(c, link);
        return true;
      }
      if (link !== c.current) return true;
      c.session.subscriptionAcked(type, id, frame, c.version);
      c.toClient(frame);
      return true;
    }
    case T.PINGRESP:
      if (link.ownPings > 0) {
        link.ownPings--;
        return true;
      }
      if (link === c.current) c.toClient(frame);
      return true;
    case T.DISCONNECT:
      if (link === c.current) {
        // MQTT 5 server-initiated DISCONNECT: the client hears it as the broker said it.
        downRun.flush();
        c.socket.write(frame);
        c.teardown('broker-disconnect', null);
        return false;
      }
      if (link === c.next)
        moveFailed(
          c,
          link,
          new MqttMigrationFailedError(`broker ${link.address} disconnected during the move`),
          'broker-disconnect',
        );
      else oldLinkLost(c, link);
      return false;
    default:
      return c.linkBroken(
        link,
        new MqttProtocolError(`unexpected ${T.PACKET_NAMES[type] ?? type} from broker`),
      );
  }
}

/** Pass a broker's PUBLISH to the client; QoS 1/2 get the gateway's packet id (`at`: where it is, -1 for QoS 0). */
export function deliverPublish(c: RelayHost, link: UpstreamLink, frame: Buffer, at: number): void {
  if (at >= 0) {
    frame.writeUInt16BE(c.session.deliver(link, frame.readUInt16BE(at)), at);
    link.unacked++;
  }
  c.toClient(frame);
}

function injectedSubackOk(c: RelayHost, frame: Buffer): boolean {
  const r = decodePacket(frame, c.version);
  if (!r.ok || r.packet.cmd !== 'suback') return false;
  return (r.packet.granted as unknown[]).every((g) => typeof g === 'number' && g < 0x80);
}

function outgoingShrunk(c: RelayHost): void {
  if (c.clientPause & PAUSE_WINDOW && c.session.outgoingCount < c.ctx.config.limits.inflightWindow) {
    c.setClientPause(PAUSE_WINDOW, false);
  }
}
