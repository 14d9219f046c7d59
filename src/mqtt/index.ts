/** The MQTT edge: the only public door of src/mqtt. */
export {
  MqttServer,
  type MqttServerOptions,
  type MqttListenOptions,
  type MqttListener,
  type ConnectionView,
} from './server.js';
export type { MqttLogger } from './connection.js';
export {
  DEFAULT_MQTT_CONFIG,
  resolveMqttConfig,
  type MqttConfigInput,
  type ResolvedMqttConfig,
} from './options.js';
export type {
  MqttConfig,
  MqttUidConfig,
  MqttLimitsConfig,
  MqttTimeoutsConfig,
  MqttMigrationConfig,
  MqttSectionConfig,
} from '../core/mqtt-config.js';
export type { MqttMetricsSink } from './stats.js';
export * from './errors.js';
export { createMqttStage, type MqttStage, type MqttStageOptions } from './stage.js';
