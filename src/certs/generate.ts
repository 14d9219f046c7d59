/**
 * Development certificates: a CA, server and client certs, and CRLs, generated with WebCrypto
 * through @peculiar/x509 (ECDSA P-256 by default, RSA for the "both key types" setups).
 * Used by `zonegate certs init`, the demo and the tests; never on the request path.
 */
import { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export type KeyType = 'ecdsa' | 'rsa';

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  /** Hex serial number (what a CRL lists). */
  readonly serialNumber: string;
  /** PKCS#8 DER of the private key (the PKCS#12 packer takes it). */
  readonly keyDer: Buffer;
  readonly certDer: Buffer;
}

export interface CertificateAuthority extends Issued {
  readonly name: string;
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
}

const DAY_MS = 86_400_000;
/** SAN URI form of a uid in client certs; `certUid: {from: san-uri, pattern: ^urn:zonegate:uid:(.+)$}` reads it back. */
export const UID_URI_PREFIX = 'urn:zonegate:uid:';

/**
 * A uid as a SAN URI. URIs are ASCII (IA5String): the uid's UTF-8 bytes outside the URI
 * characters are percent-encoded, as the certificate reader decodes them (docs/design.md
 * "Uids are UTF-8 text"); `#` and `?` too, so the whole uid stays in the URN's path.
 */
export function uidUri(uid: string): string {
  return (
    UID_URI_PREFIX + encodeURI(uid).replace(/[#?]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  );
}

function algorithm(type: KeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return type === 'rsa'
    ? {
        name: 'RSASSA-PKCS1-v1_5',
        hash: 'SHA-256',
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: 2048,
      }
    : { name: 'ECDSA', namedCurve: 'P-256' };
}

function signing(type: KeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
}

async function keyPair(type: KeyType): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(algorithm(type), true, ['sign', 'verify']);
}

function serial(): string {
  // Positive 16-byte serial: RFC 5280 §4.1.2.2 wants it unique per CA and at most 20 octets.
  // The first byte is 0x01-0x7f: a zero would be stripped from the reported serial, leaving
  // one that reads as negative when a CRL is made from it.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f || 0x01;
  return Buffer.from(b).toString('hex');
}

/**
 * A serial number (hex) as the positive DER INTEGER a certificate carries: `Issued.serialNumber`
 * and OpenSSL print it without leading zeros, so `fe99...` stands for `00 fe 99 ...`. Written
 * as is, a CRL entry would say `fe 99 ...`, a negative number that matches no certificate, and
 * OpenSSL would go on accepting the certificate the CRL was made to revoke.
 */
export function positiveSerialHex(hex: string): string {
  const digits = hex.toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-f]+$/.test(digits)) throw new RangeError(`not a hexadecimal serial number: ${hex}`);
  let s = digits.replace(/^0+(?=.)/, '');
  if (s.length % 2 === 1) s = `0${s}`;
  return Number.parseInt(s.slice(0, 1), 16) >= 8 ? `00${s}` : s;
}

async function finish(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<Issued> {
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(keyDer, 'PRIVATE KEY') + '\n',
    serialNumber: cert.serialNumber,
    keyDer,
    certDer: Buffer.from(cert.rawData),
  };
}

export async function createCa(
  name = 'Zonegate Dev CA',
  days = 3650,
  type: KeyType = 'ecdsa',
): Promise<CertificateAuthority> {
  const keys = await keyPair(type);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + days * DAY_MS),
    keys,
    signingAlgorithm: signing(type),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { ...(await finish(cert, keys)), name, keys, cert };
}

export interface IssueOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Client certs: the uid, written as SAN URI `urn:zonegate:uid:<uid>` (and the CN if none given). */
  readonly uid?: string;
  readonly emails?: readonly string[];
  readonly usage: 'server' | 'client';
  readonly keyType?: KeyType;
  readonly days?: number;
  /** Negative to issue an already expired cert (tests). */
  readonly notAfterOffsetMs?: number;
  /** Hex serial number (positive, as OpenSSL prints it); default 16 random bytes. */
  readonly serialNumber?: string;
}

export async function issueCert(ca: CertificateAuthority, o: IssueOptions): Promise<Issued> {
  const type = o.keyType ?? 'ecdsa';
  const keys = await keyPair(type);
  const names: x509.JsonGeneralName[] = [];
  for (const d of o.dnsNames ?? []) names.push({ type: 'dns', value: d });
  for (const ip of o.ipAddresses ?? []) names.push({ type: 'ip', value: ip });
  for (const e of o.emails ?? []) names.push({ type: 'email', value: e });
  if (o.uid !== undefined) names.push({ type: 'url', value: uidUri(o.uid) });
  const notAfter =
    o.notAfterOffsetMs !== undefined
      ? new Date(Date.now() + o.notAfterOffsetMs)
      : new Date(Date.now() + (o.days ?? 825) * DAY_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serialNumber === undefined ? serial() : positiveSerialHex(o.serialNumber),
    subject: `CN=${o.commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signing(ca.keys.privateKey.algorithm.name === 'ECDSA' ? 'ecdsa' : 'rsa'),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | (type === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : 0),
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        o.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return finish(cert, keys);
}

/** A CRL listing `revokedSerials` (hex), valid for `days`. OpenSSL needs one per CA, even empty. */
export async function createCrl(
  ca: CertificateAuthority,
  revokedSerials: readonly string[],
  days = 30,
): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + days * DAY_MS),
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signing(ca.keys.privateKey.algorithm.name === 'ECDSA' ? 'ecdsa' : 'rsa'),
    entries: revokedSerials.map((serialNumber) => ({
      serialNumber: positiveSerialHex(serialNumber),
      revocationDate: new Date(Date.now() - 60_000),
    })),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey)],
  });
  // OpenSSL only reads the "X509 CRL" PEM label.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}
