export {
  startConsoleServer,
  dryRunView,
  type ConsoleServer,
  type ConsoleServerOptions,
  type ConsoleTlsFiles,
} from './server.js';
export { parseGatewayMetrics, zoneStats, FleetMetrics, type GatewaySample } from './fleet-metrics.js';
export { parseAction, planFor } from './actions.js';
export {
  ConsoleAssetsMissingError,
  ConsoleForbiddenError,
  ConsoleNotFoundError,
  ConsoleRequestError,
} from './errors.js';
export type * from './view.js';
