/**
 * Client -> broker relay: every frame from the client once its session is up. Packets are
 * framed, never decoded, except SUBSCRIBE/UNSUBSCRIBE (rare, and kept to be replayed on a move).
 * Copies of what a move must resend go to session-state.ts.
 */
import { decodePacket } from './codec.js';
import { MqttMalformedPacketError, MqttProtocolError, MqttTopicInvalidError } from './errors.js';
import * as T from './packet-type.js';
import { PAUSE_WINDOW } from './pause.js';
import { PINGREQ_FRAME, PINGRESP_FRAME } from './pingreq.js';
import { ackFrame, ackId, publishIdOffset, publishQos, topicEnd, topicStart } from './publish.js';
import type { RelayHost } from './relay-host.js';
import { refusingSuback } from './subscribe.js';
import { checkTopicFilter, checkTopicName } from './topic.js';

export function relayFromClient(c: RelayHost, frame: Buffer, hl: number): boolean {
  const first = frame[0] as number;
  const type = first >> 4;
  c.countFromClient(type);
  const up = c.current;
  switch (type) {
    case T.PUBLISH: {
      const te = topicEnd(frame, hl);
      if (te < 0) return c.fail(new MqttMalformedPacketError('PUBLISH shorter than its topic'), 'client');
      const limits = c.ctx.config.limits;
      const bad = checkTopicName(frame, topicStart(hl), te, limits.maxTopicBytes, limits.maxTopicLevels);
      if (bad !== null) return c.fail(new MqttTopicInvalidError(bad), 'client');
      const qos = publishQos(first);
      if (qos > 0) {
        const at = publishIdOffset(frame, te);
        const id = at < 0 ? 0 : frame.readUInt16BE(at);
        // §2.2.1: QoS 1/2 PUBLISH needs a non-zero packet identifier.
        if (id === 0) return c.fail(new MqttMalformedPacketError('PUBLISH without packet id'), 'client');
        c.session.keepPublish(id, frame, qos);
        if (c.session.outgoingCount >= limits.inflightWindow) c.setClientPause(PAUSE_WINDOW, true);
      }
      if (up !== null) c.toBroker(up, frame);
      return true;
    }
    case T.PUBACK:
    case T.PUBCOMP: {
      // Client acknowledges a broker -> client delivery: translate the id back.
      const d = c.session.delivered(ackId(frame, hl));
      if (d === undefined) return true;
      const link = d.link;
      link.unacked--;
      if (link.live) {
        frame.writeUInt16BE(d.brokerId, hl);
        c.toBroker(link, frame);
        // An old session's broker may answer an acknowledgement with what it queued behind it.
        if (link.state === 'draining') link.lastActivity = c.ctx.clock;
      }
      c.releaseHeld();
      return true;
    }
    case T.PUBREC: {
      const id = ackId(frame, hl);
      const d = c.session.delivery(id);
      if (d === undefined) return true;
      if (d.link.live) {
        d.state = 1;
        frame.writeUInt16BE(d.brokerId, hl);
        c.toBroker(d.link, frame);
      } else {
        // The broker that sent it is gone: finish the QoS 2 flow towards the client (§4.3.3).
        d.state = 2;
        c.toClient(ackFrame(T.PUBREL, id));
      }
      return true;
    }
    case T.PUBREL: {
      c.session.released(ackId(frame, hl));
      if (up !== null) c.toBroker(up, frame);
      return true;
    }
    case T.SUBSCRIBE:
      return clientSubscribe(c, frame);
    case T.UNSUBSCRIBE:
      return clientUnsubscribe(c, frame);
    case T.PINGREQ:
      if (up !== null) c.toBroker(up, frame);
      else c.toClient(PINGRESP_FRAME);
      // An old session being drained hears the client's keepalive too: its broker must not
      // time it out (and publish the Will) while it still holds messages for the client.
      if (c.leaving !== null) {
        for (const l of c.leaving) {
          if (l.state !== 'draining') continue;
          l.ownPings++;
          c.linkWrite(l, PINGREQ_FRAME);
        }
      }
      return true;
    case T.DISCONNECT:
      if (up !== null) c.linkWrite(up, frame);
      c.teardown('client-disconnect', null);
      return false;
    default:
      // CONNECT twice (§3.1.0-2), AUTH, or a server-only packet from a client.
      return c.fail(
        new MqttProtocolError(`unexpected ${T.PACKET_NAMES[type] ?? type} from client`),
        'client',
      );
  }
}

function clientSubscribe(c: RelayHost, frame: Buffer): boolean {
  const r = decodePacket(frame, c.version);
  if (!r.ok || r.packet.cmd !== 'subscribe') {
    return c.fail(
      new MqttMalformedPacketError(`malformed SUBSCRIBE: ${r.ok ? 'wrong type' : r.error.message}`),
      'client',
    );
  }
  const sub = r.packet;
  const limits = c.ctx.config.limits;
  for (const s of sub.subscriptions) {
    const bad = checkTopicFilter(s.topic, limits.maxTopicBytes, limits.maxTopicLevels);
    if (bad !== null) return c.fail(new MqttTopicInvalidError(bad, true), 'client');
  }
  const id = sub.messageId ?? 0;
  if (c.session.subscriptionCount + sub.subscriptions.length > limits.maxSubscriptions) {
    c.toClient(refusingSuback(sub, c.version));
    return true;
  }
  c.session.keepSubscribe(id, frame, sub);
  if (c.current !== null) c.toBroker(c.current, frame);
  return true;
}

function clientUnsubscribe(c: RelayHost, frame: Buffer): boolean {
  const r = decodePacket(frame, c.version);
  if (!r.ok || r.packet.cmd !== 'unsubscribe') {
    return c.fail(
      new MqttMalformedPacketError(`malformed UNSUBSCRIBE: ${r.ok ? 'wrong type' : r.error.message}`),
      'client',
    );
  }
  c.session.keepSubscribe(r.packet.messageId ?? 0, frame, r.packet);
  if (c.current !== null) c.toBroker(c.current, frame);
  return true;
}
