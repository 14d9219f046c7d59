/**
 * The state kept to move a client: gateway packet ids never collide across brokers, resends
 * keep order and set DUP, a QoS 2 already PUBREC'd is not PUBREC'd twice, subscriptions are
 * re-synced by difference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type ISubscribePacket, type IUnsubscribePacket } from 'mqtt-packet';
import { SessionState } from '../../src/mqtt/session-state.js';

const v4 = { protocolVersion: 4 };
function publish(id: number, qos: 1 | 2, topic = 't'): Buffer {
  return mqttPacket.generate(
    { cmd: 'publish', topic, payload: Buffer.from('x'), qos, messageId: id, dup: false, retain: false },
    v4,
  );
}

describe('mqtt session state', () => {
  it('gives deliveries of two brokers distinct client-side ids, even with equal broker ids', () => {
    const s = new SessionState<string>();
    const ids = new Set<number>();
    for (let i = 1; i <= 100; i++) {
      ids.add(s.deliver('old', i));
      ids.add(s.deliver('new', i));
    }
    assert.equal(ids.size, 200);
    const first = s.deliver('old', 500);
    assert.equal(s.delivery(first)?.brokerId, 500);
    assert.equal(s.findDelivery('old', 500), first);
    assert.equal(s.findDelivery('new', 500), -1);
    assert.equal(s.delivered(first)?.link, 'old');
    assert.equal(s.delivered(first), undefined);
  });

  it('wraps ids at 65535 and skips ids still in use', () => {
    const s = new SessionState<string>();
    const held = s.deliver('a', 1); // id 1 stays unacknowledged
    for (let i = 0; i < 65_534; i++) s.delivered(s.deliver('a', 2));
    const next = s.deliver('a', 3);
    assert.notEqual(next, held);
    assert.ok(next >= 1 && next <= 65_535);
  });

  it('resends unacknowledged packets in order, PUBLISH with DUP, PUBREL for released QoS 2', () => {
    const s = new SessionState<string>();
    s.keepPublish(5, publish(5, 1), 1);
    s.keepPublish(6, publish(6, 2), 2);
    s.keepPublish(7, publish(7, 2), 2);
    s.keepPublish(8, publish(8, 1), 1);
    assert.equal(s.acknowledged(8), true);
    assert.equal(s.received(6), true); // PUBREC relayed to the client
    s.released(7);
    const out: Buffer[] = [];
    s.resend((f) => out.push(f));
    assert.equal(out.length, 3);
    assert.equal(out[0]?.[0], 0x3a); // PUBLISH QoS 1 + DUP
    assert.equal(out[1]?.[0], 0x3c); // PUBLISH QoS 2 + DUP
    assert.deepEqual(out[2], Buffer.from([0x62, 0x02, 0x00, 0x07])); // PUBREL 7
    // The new broker's PUBREC for 6 is not relayed again; the next one is.
    assert.equal(s.received(6), false);
    assert.equal(s.received(6), true);
  });

  it('re-syncs subscriptions by difference (added, changed options, removed)', () => {
    const s = new SessionState<string>();
    const sub: ISubscribePacket = {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: 'a/#', qos: 1 },
        { topic: 'b', qos: 0 },
      ],
    };
    s.keepSubscribe(1, mqttPacket.generate(sub, v4), sub);
    s.subscriptionAcked(9, 1, mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [1, 0] }, v4), 4);
    assert.equal(s.subscriptionCount, 2);
    const synced = new Map<string, string>();
    const first = s.syncPackets(synced, 4);
    assert.equal(first.length, 1);
    assert.deepEqual([...synced.keys()].sort(), ['a/#', 'b']);
    assert.deepEqual(s.syncPackets(synced, 4), []);
    const unsub: IUnsubscribePacket = { cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['b'] };
    s.keepSubscribe(2, mqttPacket.generate(unsub, v4), unsub);
    s.subscriptionAcked(11, 2, mqttPacket.generate({ cmd: 'unsuback', messageId: 2, granted: [] }, v4), 4);
    const second = s.syncPackets(synced, 4);
    assert.equal(second.length, 1);
    assert.equal((second[0]?.frame[0] as number) >> 4, 10); // UNSUBSCRIBE
    assert.deepEqual([...synced.keys()], ['a/#']);
  });

  it('hands back the QoS 2 deliveries of a gone broker that need a PUBREL from the gateway', () => {
    const s = new SessionState<string>();
    const a = s.deliver('gone', 1);
    const b = s.deliver('gone', 2);
    s.deliver('alive', 3);
    (s.delivery(a) as { state: number }).state = 1;
    assert.deepEqual(s.orphanedReleases('gone'), [a]);
    assert.deepEqual(s.orphanedReleases('gone'), []);
    assert.equal(s.delivery(b)?.state, 0);
  });
});
