import { ZonegateError } from '../core/errors.js';

/** A listener's PROXY protocol header was malformed, too long, or late; the connection is closed. */
export class ProxyProtocolError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_PROXY_PROTOCOL', message, { httpStatus: 400, cause });
  }
}

/** A listener's certificate, key, CA, CRL or ticket key file could not be loaded. */
export class TlsConfigError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_TLS_CONFIG', message, { cause });
  }
}

/** A listener could not bind its address. */
export class ListenError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_LISTEN', message, { cause });
  }
}

/** A client address sent requests faster than `limits.clientIp.requestsPerSec` allows (burst included). */
export class ClientRateLimitedError extends ZonegateError {
  constructor() {
    super('ZG_ERR_RATE_LIMITED', 'too many requests from this client address; slow down', {
      httpStatus: 429,
      // MQTT 5 "Quota exceeded".
      mqttReasonCode: 0x97,
    });
  }
}
