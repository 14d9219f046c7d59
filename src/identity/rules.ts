/**
 * The identity config compiled once per config object, shared by the HTTP and MQTT stages so
 * both read a certificate, and check a uid, by the same compiled rules. (`identity.mqtt.pattern`
 * is compiled by the MQTT options, src/mqtt/options.ts, with the same convention.)
 */
import type { IdentityConfig } from '../core/config.js';
import { certUidReader, type CertUidReader } from './cert-uid.js';
import { compileUidPattern } from './pattern.js';

export interface IdentityRules {
  /** `identity.uidPattern`: a uid from a header, cookie or certificate that fails it is absent. */
  readonly uidPattern: RegExp;
  /** `identity.certUid`, or null when uids are not taken from certificates. */
  readonly certUid: CertUidReader | null;
}

const compiled = new WeakMap<IdentityConfig, IdentityRules>();

export function identityRules(cfg: IdentityConfig): IdentityRules {
  let r = compiled.get(cfg);
  if (r === undefined) {
    const uidPattern = compileUidPattern('identity.uidPattern', cfg.uidPattern);
    r = {
      uidPattern,
      certUid: certUidReader(cfg.certUid, uidPattern),
    };
    compiled.set(cfg, r);
  }
  return r;
}
