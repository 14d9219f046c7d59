/** The MQTT edge: the only public door of src/mqtt. */
export {
  MqttServer,
  type MqttServerOptions,
  type MqttListenOptions,
  type MqttListener,
  type ConnectionView,
} from './server.js';
export type { MqttLogger, MqttAccessLog } from './connection.js';
export {
  DEFAULT_MQTT_CONFIG,
  resolveMqttConfig,
  type MqttConfig,
  type MqttConfigInput,
  type ResolvedMqttConfig,
  type MqttUidConfig,
  type MqttLimitsConfig,
  type MqttTimeoutsConfig,
  type MqttMigrationConfig,
  type MqttSectionConfig,
} from './options.js';
export type { MqttMetricsSink } from './stats.js';
export * from './errors.js';
export { createMqttStage, type MqttStage, type MqttStageOptions } from './stage.js';
