export { Endpoint, type EndpointOptions } from './endpoint.js';
export { EndpointGroup } from './group.js';
export { UpstreamRegistry, groupFor, type TargetTable } from './registry.js';
export { HealthChecker, type HealthCheckerOptions } from './health.js';
