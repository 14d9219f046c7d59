export { Endpoint, EndpointState, type EndpointOptions, type EjectionOptions } from './endpoint.js';
export { EndpointGroup } from './group.js';
export { UpstreamRegistry, groupFor, type TargetTable } from './registry.js';
export {
  EndpointChecker,
  HealthChecker,
  type EndpointCheckerOptions,
  type HealthCheckerOptions,
  type HealthCheckConfig,
  type HealthProbe,
} from './health.js';
export { BrokerSet } from './brokers.js';
export {
  SocketPool,
  PooledConn,
  CONNECT_TIMEOUT,
  POOL_DESTROYED,
  type ConnUser,
  type SocketPoolOptions,
} from './socket-pool.js';
