export { createListener, type Listener, type ListenerEvent, type ListenerOptions } from './listener.js';
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
export { ListenError, ProxyProtocolError, TlsConfigError } from './errors.js';
