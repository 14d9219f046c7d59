export * from './metrics.js';
export * from './errors.js';
export * from './admin-server.js';
export { tokensEqual, readToken, authorizeWrite } from './auth.js';
export { listenTracked } from './small-server.js';
export {
  aggregateMetrics,
  snapshotMetrics,
  RetiredMetrics,
  type MetricsSnapshot,
} from './cluster-metrics.js';
export {
  subscribeMetrics,
  tlsFailureReason,
  upstreamErrorKind,
  type MetricsSubscriberOptions,
} from './http-metrics.js';
// operations.ts (runGatewayProcess, startOperations) is imported directly by `zonegate start`:
// it depends on the runtime, and the runtime's stages import this index for `metrics`, so
// re-exporting it here would make an import cycle.
