/**
 * PKCS#12 (RFC 7292) packaging of a client cert + key for mobile test devices, with node-forge.
 * forge's own toPkcs12Asn1 only understands RSA keys and certs, so the bags are assembled here
 * from DER: the key as a PKCS#8 shrouded key bag (PBES2/AES-256), the certs as cert bags,
 * and an HMAC-SHA1 MacData (RFC 7292 §4, the one every OS keychain accepts).
 */
import forge from 'node-forge';

const { asn1, pki } = forge;

function seq(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}
function oid(o: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
}
function octets(bytes: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
}
function explicit0(inner: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
}
function der(a: forge.asn1.Asn1): string {
  return asn1.toDer(a).getBytes();
}
function binary(b: Buffer): string {
  return b.toString('binary');
}
/** PKCS#7 ContentInfo of type `data` wrapping a SafeContents. */
function dataContent(safeContents: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq([oid(pki.oids.data!), explicit0(octets(der(safeContents)))]);
}

export interface Pkcs12Input {
  /** PKCS#8 DER of the private key (EC or RSA). */
  readonly keyDer: Buffer;
  /** Leaf first, then the chain. */
  readonly certsDer: readonly Buffer[];
  readonly password: string;
  readonly friendlyName?: string;
}

export function toPkcs12(input: Pkcs12Input): Buffer {
  const leaf = input.certsDer[0];
  if (leaf === undefined) throw new TypeError('toPkcs12 needs at least the leaf certificate');
  // localKeyId pairs the key bag with its cert bag: SHA-1 of the leaf, as OpenSSL does.
  const localKeyId = forge.md.sha1.create().update(binary(leaf)).digest().getBytes();
  const attrs = [
    seq([
      oid(pki.oids.localKeyId!),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [octets(localKeyId)]),
    ]),
  ];
  if (input.friendlyName !== undefined) {
    attrs.push(
      seq([
        oid(pki.oids.friendlyName!),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, input.friendlyName),
        ]),
      ]),
    );
  }
  const bagAttrs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, attrs);

  const certBags = input.certsDer.map((c, i) =>
    seq([
      oid(pki.oids.certBag!),
      explicit0(seq([oid(pki.oids.x509Certificate!), explicit0(octets(binary(c)))])),
      ...(i === 0 ? [bagAttrs] : []),
    ]),
  );
  const keyInfo = asn1.fromDer(binary(input.keyDer));
  const encrypted = pki.encryptPrivateKeyInfo(keyInfo, input.password, {
    algorithm: 'aes256',
    count: 2048,
    prfAlgorithm: 'sha256',
  });
  const keyBag = seq([oid(pki.oids.pkcs8ShroudedKeyBag!), explicit0(encrypted), bagAttrs]);

  const authSafe = seq([dataContent(seq(certBags)), dataContent(seq([keyBag]))]);
  const authSafeDer = der(authSafe);

  const salt = forge.random.getBytesSync(8);
  const count = 2048;
  const macKey = forge.pkcs12.generateKey(
    input.password,
    new forge.util.ByteStringBuffer(salt),
    3,
    count,
    20,
  );
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey);
  hmac.update(authSafeDer);
  const macData = seq([
    seq([
      seq([oid(pki.oids.sha1!), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
      octets(hmac.digest().getBytes()),
    ]),
    octets(salt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(count).getBytes()),
  ]);
  const pfx = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()),
    seq([oid(pki.oids.data!), explicit0(octets(authSafeDer))]),
    macData,
  ]);
  return Buffer.from(der(pfx), 'binary');
}
