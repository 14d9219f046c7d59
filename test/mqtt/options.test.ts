/**
 * The `mqtt` config: schema defaults equal the module's defaults (one truth), every bad option
 * is refused by name, and the gateway config accepts the section.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/core/config.js';
import { DEFAULT_MQTT_CONFIG, MqttOptionsError, resolveMqttConfig } from '../../src/mqtt/index.js';

const minimal = {
  idc: 'hz-1',
  listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 0 }],
  zonemap: { file: 'map.yaml' },
};

describe('mqtt options', () => {
  it('config schema defaults are the module defaults', () => {
    const cfg = validateConfig(minimal);
    const { uid, ...section } = DEFAULT_MQTT_CONFIG;
    assert.deepEqual(cfg.identity.mqtt, uid);
    assert.deepEqual(cfg.mqtt, section);
  });

  it('the schema takes a full section and refuses unknown or out-of-range fields', () => {
    const cfg = validateConfig({
      ...minimal,
      identity: { mqtt: { source: 'username', pattern: '^u(?<uid>\\d+)$' } },
      mqtt: {
        migration: { mode: 'disconnect', serverReference: 'mqtt.example:8883' },
        limits: { inflightWindow: 10 },
      },
    });
    assert.equal(cfg.mqtt.migration.mode, 'disconnect');
    assert.equal(cfg.mqtt.limits.inflightWindow, 10);
    assert.equal(cfg.mqtt.limits.maxPacketBytes, DEFAULT_MQTT_CONFIG.limits.maxPacketBytes);
    assert.throws(
      () => validateConfig({ ...minimal, mqtt: { limits: { inflightWindow: 0 } } }),
      /inflightWindow/,
    );
    assert.throws(() => validateConfig({ ...minimal, mqtt: { migration: { mode: 'teleport' } } }), /mode/);
    assert.throws(() => validateConfig({ ...minimal, mqtt: { nope: 1 } }), /nope|additional/);
  });

  it('the server constructor names the bad option', () => {
    const bad: [object, string][] = [
      [{ uid: { pattern: '(' } }, 'uid.pattern'],
      [{ uid: { source: 'header' } }, 'uid.source'],
      [{ limits: { maxPacketBytes: 10 } }, 'limits.maxPacketBytes'],
      [{ limits: { inflightWindow: 100_000 } }, 'limits.inflightWindow'],
      [{ limits: { brokerConnectsInFlight: 0 } }, 'limits.brokerConnectsInFlight'],
      [{ timeouts: { connectTimeoutMs: 1.5 } }, 'timeouts.connectTimeoutMs'],
      [{ migration: { movesPerSecond: 0 } }, 'migration.movesPerSecond'],
      [{ migration: { serverReference: '' } }, 'migration.serverReference'],
    ];
    for (const [input, option] of bad) {
      assert.throws(
        () => resolveMqttConfig(input),
        (e: unknown) =>
          e instanceof MqttOptionsError && e.option === option && e.code === 'ZG_ERR_MQTT_OPTIONS_INVALID',
        option,
      );
    }
    const ok = resolveMqttConfig({ limits: { inflightWindow: 8 } });
    assert.equal(ok.limits.inflightWindow, 8);
    assert.ok(Object.isFrozen(ok.limits));
    assert.equal(ok.uidRegex.exec('123-abc')?.groups?.uid, '123');
  });
});
