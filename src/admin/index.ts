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
// A leaf: the admin listener, metrics and their helpers are handed what they serve (a zone map
// view, a drain switch, a reload function, a registry) by the composition root,
// src/gateway/process.ts; nothing here imports the gateway, HTTP or MQTT stages.
