export { startGateway, type Gateway, type GatewayLog, type GatewayOptions } from './gateway.js';
export { startDemo, EXAMPLE_MAP, type Demo, type DemoOptions } from './demo.js';
export { startDemoUpstreams, type DemoAnswer, type DemoUpstreams } from './demo-upstreams.js';
