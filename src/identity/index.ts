export {
  CookieKeyring,
  decodeCookieUnverified,
  type CookieClaims,
  type CookieRejection,
  type CookieVerdict,
} from './cookie.js';
export { Identifier, ANONYMOUS, type IdentifierOptions } from './identify.js';
export { certUidReader, type CertUidReader } from './cert-uid.js';
export { VerifiedCookieCache, type VerifiedCookie } from './verified-cookie-cache.js';
export { loadCookieKeyring } from './keyring.js';
