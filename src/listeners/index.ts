export {
  createListener,
  type Listener,
  type ListenerEvent,
  type ListenerOptions,
  type RefusalReason,
} from './listener.js';
export { EdgePolicy } from './edge-policy.js';
export { ClientLimits, clientKey, type ClientLimitsConfig } from './client-limits.js';
export { cidrProblem, cidrSet, plainAddress, type CidrSet } from '../core/cidr.js';
export { connectionInfo, setConnectionInfo, type ConnectionInfo } from './connection-info.js';
export {
  encodeProxyHeader,
  parseProxyHeader,
  MAX_PROXY_HEADER_BYTES,
  type ProxyAddress,
  type ProxyHeader,
  type ProxyParseResult,
} from './proxy-protocol.js';
export { readProxyHeader } from './proxy-reader.js';
export { ClientRateLimitedError, ListenError, ProxyProtocolError, TlsConfigError } from './errors.js';
