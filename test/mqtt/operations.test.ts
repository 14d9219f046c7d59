/**
 * Operating the MQTT edge: Prometheus metrics from the admin registry (bounded labels), gateway
 * drain (clients told to reconnect elsewhere, paced) and shutdown (MQTT 5: 0x8B).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { subscribeMetrics } from '../../src/admin/http-metrics.js';
import { createMetrics, type Metrics } from '../../src/admin/metrics.js';
import { EventBus } from '../../src/core/events.js';
import { connectClient, endClient, startFixture, waitFor, type Fixture } from './fixture.js';

function ended(c: MqttClient): Promise<IDisconnectPacket | 'closed'> {
  return new Promise((resolve) => {
    c.once('disconnect', (p: IDisconnectPacket) => resolve(p));
    c.once('close', () => resolve('closed'));
  });
}

/** The gateway's event bus with the metrics subscriber on it, as `zonegate start` wires it. */
function metricsBus(metrics: Metrics): EventBus {
  const bus = new EventBus();
  subscribeMetrics(bus, metrics, { listeners: [] });
  return bus;
}

describe('mqtt operations', () => {
  const fixtures: Fixture[] = [];
  const clients: MqttClient[] = [];
  after(async () => {
    await Promise.all(clients.map(endClient));
    for (const f of fixtures) await f.close();
  });

  it('feeds connects, packets and moves into the Prometheus registry, never a uid', async () => {
    const metrics = createMetrics();
    const f = await startFixture({
      zones: ['rz00', 'rz02'],
      stage: { metrics, events: metricsBus(metrics) },
    });
    fixtures.push(f);
    const c = await connectClient(f.port, { clientId: '100-metrics', protocolVersion: 4 });
    clients.push(c);
    await c.publishAsync('m/x', 'hello', { qos: 1 });
    f.setZoneStatus('rz00', 'down');
    await waitFor('moved', () => f.server.stats.movesOk === 1, 3000);
    let text = '';
    await waitFor(
      'flushed packet counters',
      () => {
        void metrics.registry.metrics().then((t) => (text = t));
        return text.includes('zonegate_mqtt_packets_total{type="publish",direction="in"} 1');
      },
      3000,
    );
    assert.match(
      text,
      /zonegate_mqtt_connects_total\{zone="rz00",colour="(blue|green)",reason="uid-shard",result="ok"\} 1/,
    );
    assert.match(text, /zonegate_mqtt_migrations_total\{mode="down",result="ok"\} 1/);
    assert.match(text, /zonegate_connections_active\{protocol="mqtt"\} 1/);
    assert.match(text, /zonegate_mqtt_moves_started_total\{cause="down"\} 1/);
    assert.match(text, /zonegate_mqtt_moves_finished_total\{cause="down",result="ok",reason="none"\} 1/);
    assert.doesNotMatch(text, /100-metrics/);
    // The old session is drained (nothing queued there), then counted; sessions per zone follow.
    await waitFor(
      'drain counted and sessions gauged',
      () => {
        void metrics.registry.metrics().then((t) => (text = t));
        return (
          text.includes('zonegate_mqtt_drains_total{zone="rz00",result="done",reason="empty"} 1') &&
          text.includes('zonegate_mqtt_sessions{zone="rz02"} 1')
        );
      },
      5000,
    );
    assert.match(text, /zonegate_mqtt_drain_seconds_count\{result="done"\} 1/);
  });

  it('counts a refusal with the code the client received and the zone it was for', async () => {
    const metrics = createMetrics();
    const lines: { zone: string | null; result: number; end: string }[] = [];
    const f = await startFixture({
      zones: ['rz00'],
      stage: {
        metrics,
        events: (() => {
          const bus = metricsBus(metrics);
          bus.mqttSessionEnd.subscribe((e) => lines.push(e));
          return bus;
        })(),
      },
    });
    fixtures.push(f);
    // 3.1.1: a client id without a uid gets return code 0x02 (MQTT 5 would get 0x85).
    await assert.rejects(connectClient(f.port, { clientId: 'no-uid', protocolVersion: 4 }));
    // uid 110 lives in rz01, whose broker does not answer: 0x88 for MQTT 5, counted for rz01.
    await assert.rejects(connectClient(f.port, { clientId: '110-x', protocolVersion: 5 }));
    await waitFor('two access log lines', () => lines.length === 2);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /zonegate_mqtt_connects_total\{zone="none",colour="none",reason="none",result="0x02"\} 1/,
    );
    assert.match(
      text,
      /zonegate_mqtt_connects_total\{zone="rz01",colour="[a-z]+",reason="uid-shard",result="0x88"\} 1/,
    );
    assert.doesNotMatch(text, /result="0x85"/);
    assert.deepEqual(
      lines.map((l) => [l.zone, l.result, l.end]),
      [
        [null, 0x02, 'refused'],
        ['rz01', 0x88, 'refused'],
      ],
    );
  });

  it('drain tells every client to reconnect within the window; shutdown sends MQTT 5 0x8B', async () => {
    const f = await startFixture({ zones: ['rz00'], config: { migration: { movesPerSecond: 1000 } } });
    fixtures.push(f);
    const a = await connectClient(f.port, { clientId: '101-drain', protocolVersion: 5 });
    const b = await connectClient(f.port, { clientId: '102-drain', protocolVersion: 4 });
    clients.push(a, b);
    const ea = ended(a);
    const eb = ended(b);
    f.server.drain(300);
    assert.equal(((await ea) as IDisconnectPacket).reasonCode, 0x9c);
    assert.equal(await eb, 'closed');
    const c = await connectClient(f.port, { clientId: '103-shutdown', protocolVersion: 5 });
    clients.push(c);
    const ec = ended(c);
    await f.server.close();
    assert.equal(((await ec) as IDisconnectPacket).reasonCode, 0x8b);
  });
});
