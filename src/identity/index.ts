export {
  CookieKeyring,
  decodeCookieUnverified,
  type CookieClaims,
  type CookieRejection,
  type CookieVerdict,
} from './cookie.js';
export { Identifier, ANONYMOUS, type IdentifierOptions } from './identify.js';
export { certUidReader, certReader, type CertUidReader } from './cert-uid.js';
export { identifyMqtt, type MqttConnectNames, type MqttUidRefusal, type MqttUidRule } from './mqtt-uid.js';
export { compileUidPattern, pickUid, uidPatternProblem } from './pattern.js';
export { identityRules, type IdentityRules } from './rules.js';
export { encodeUidHeader, readUidBytes, readUidHeader, type UidRead } from './uid-header.js';
export { UidHeaderInvalidError } from './errors.js';
export { VerifiedCookieCache, type VerifiedCookie } from './verified-cookie-cache.js';
export { loadCookieKeyring } from './keyring.js';
