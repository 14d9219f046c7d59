export { exampleMap, smallMap } from './lab-map.js';
export {
  formatLabResult,
  LAB_LIMITS,
  runLab,
  type LabOptions,
  type LabResult,
  type MqttFigures,
} from './lab.js';
export { startRelay, type Relay } from './relay.js';
