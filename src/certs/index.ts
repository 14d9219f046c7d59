export {
  createCa,
  createCrl,
  issueCert,
  UID_URI_PREFIX,
  uidUri,
  type CertificateAuthority,
  type IssueOptions,
  type Issued,
  type KeyType,
} from './generate.js';
export { toPkcs12, type Pkcs12Input } from './pkcs12.js';
export { initCerts, type InitCertsOptions, type InitCertsResult } from './init.js';
