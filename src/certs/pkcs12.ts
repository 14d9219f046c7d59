/**
 * PKCS#12 (RFC 7292) packaging of a client cert + key for mobile test devices. The structure
 * comes from @peculiar/asn1-pfx (the ASN.1 schemas @peculiar/x509 is built on); the key is
 * encrypted by Node's own PKCS#8 export (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC), and the
 * MacData is HMAC-SHA1 over a key from the PKCS#12 KDF (RFC 7292 §4 and Appendix B), the
 * MAC every OS keychain accepts.
 */
import { createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { ContentInfo, id_data } from '@peculiar/asn1-cms';
import {
  AuthenticatedSafe,
  CertBag,
  MacData,
  PFX,
  PKCS12Attribute,
  SafeBag,
  SafeContents,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
} from '@peculiar/asn1-pfx';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

/** PKCS#9 attribute OIDs (RFC 2985 §5.5.1, §5.5.2). */
const ID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const ID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const ID_SHA1 = '1.3.14.3.2.26';
const MAC_ITERATIONS = 2048;

export interface Pkcs12Input {
  /** PKCS#8 DER of the private key (EC or RSA). */
  readonly keyDer: Buffer;
  /** Leaf first, then the chain. */
  readonly certsDer: readonly Buffer[];
  readonly password: string;
  readonly friendlyName?: string;
}

/**
 * asn1-pfx 2.11's PKCS12Attribute constructor drops its argument (`Object.assign(params)`
 * without a target), so the fields are set after construction.
 */
function attribute(attrId: string, value: ArrayBuffer): PKCS12Attribute {
  const a = new PKCS12Attribute();
  a.attrId = attrId;
  a.attrValues = [value];
  return a;
}

function der(value: object): ArrayBuffer {
  return AsnConvert.serialize(value);
}

function octets(bytes: Uint8Array): ArrayBuffer {
  return der(new OctetString(bytes));
}

/** DER BMPString (tag 30): UTF-16BE, what friendlyName holds. */
function bmpString(text: string): ArrayBuffer {
  const body = Buffer.from(text, 'utf16le').swap16();
  if (body.length > 127) throw new RangeError('friendlyName is too long');
  return new Uint8Array([0x1e, body.length, ...body]).buffer;
}

/** `data` ContentInfo wrapping a DER payload. */
function dataContent(payload: ArrayBuffer): ContentInfo {
  return new ContentInfo({ contentType: id_data, content: octets(new Uint8Array(payload)) });
}

/**
 * RFC 7292 Appendix B.2 key derivation, SHA-1 (u = 20, v = 64). The password is a BMPString
 * with its terminating NUL. `id` 3 = MAC key.
 */
export function pkcs12Kdf(
  password: string,
  salt: Buffer,
  id: number,
  iterations: number,
  size: number,
): Buffer {
  const u = 20;
  const v = 64;
  const pw = Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
  const repeat = (b: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length]!;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([salt.length > 0 ? repeat(salt) : Buffer.alloc(0), repeat(pw)]);
  const blocks: Buffer[] = [];
  for (let n = 0; n * u < size; n++) {
    let a = createHash('sha1').update(d).update(i).digest();
    for (let k = 1; k < iterations; k++) a = createHash('sha1').update(a).digest();
    blocks.push(a);
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, B = A repeated to v bytes.
    const b = repeat(a).subarray(0, v);
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = i[j + k]! + b[k]! + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, size);
}

export function toPkcs12(input: Pkcs12Input): Buffer {
  const leaf = input.certsDer[0];
  if (leaf === undefined) throw new TypeError('toPkcs12 needs at least the leaf certificate');
  // localKeyId pairs the key bag with its cert bag: SHA-1 of the leaf, as OpenSSL does.
  const attrs = [attribute(ID_LOCAL_KEY_ID, octets(createHash('sha1').update(leaf).digest()))];
  if (input.friendlyName !== undefined)
    attrs.push(attribute(ID_FRIENDLY_NAME, bmpString(input.friendlyName)));
  const certBags = input.certsDer.map(
    (c, i) =>
      new SafeBag({
        bagId: id_certBag,
        bagValue: der(new CertBag({ certId: id_x509Certificate, certValue: octets(c) })),
        ...(i === 0 ? { bagAttributes: attrs } : {}),
      }),
  );
  const encryptedKey = createPrivateKey({ key: input.keyDer, format: 'der', type: 'pkcs8' }).export({
    format: 'der',
    type: 'pkcs8',
    cipher: 'aes-256-cbc',
    passphrase: input.password,
  });
  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: new Uint8Array(encryptedKey).buffer,
    bagAttributes: attrs,
  });
  const authSafe = der(
    new AuthenticatedSafe([
      dataContent(der(new SafeContents(certBags))),
      dataContent(der(new SafeContents([keyBag]))),
    ]),
  );
  const salt = randomBytes(8);
  const macKey = pkcs12Kdf(input.password, salt, 3, MAC_ITERATIONS, 20);
  const mac = createHmac('sha1', macKey).update(new Uint8Array(authSafe)).digest();
  const pfx = new PFX({
    version: 3,
    authSafe: dataContent(authSafe),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA1, parameters: null }),
        digest: new OctetString(mac),
      }),
      macSalt: new OctetString(salt),
      iterations: MAC_ITERATIONS,
    }),
  });
  return Buffer.from(der(pfx));
}
