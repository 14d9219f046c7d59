export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export {
  runGatewayProcess,
  gatewayDrainParticipant,
  type GatewayProcess,
  type GatewayProcessOptions,
} from './process.js';
export { startDemo, EXAMPLE_MAP, type Demo, type DemoOptions, type DemoPort } from './demo.js';
export { DEMO_PING_TOPIC, DEMO_PONG_TOPIC, startDemoBrokers, type DemoBrokers } from './demo-brokers.js';
export { DemoMqttClient } from './demo-mqtt-client.js';
export { startDemoUpstreams, type DemoAnswer, type DemoUpstreams } from './demo-upstreams.js';
