/**
 * Test certificates, generated once per test process into a temp dir: a CA, an ECDSA and an
 * RSA server cert, an SNI cert for another name, a good client with a uid, a revoked client
 * (listed in the CRL), and a client from a CA the gateway does not trust.
 */
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createCrl, issueCert, type CertificateAuthority } from '../../src/certs/index.js';

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly serverRsaCert: string;
  readonly serverRsaKey: string;
  /** A second server cert (CN other.test) for SNI and for swap-on-disk tests. */
  readonly otherCert: string;
  readonly otherKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly clientUid: string;
  readonly revokedCert: string;
  readonly revokedKey: string;
  readonly strangerCert: string;
  readonly strangerKey: string;
  readonly crl: string;
  /** The CA itself, to sign more CRLs in a test. */
  readonly authority: CertificateAuthority;
  readonly clientSerial: string;
  readonly revokedSerial: string;
  /** 48 random bytes, base64: a fleet-shared session ticket key file. */
  readonly ticketKeys: string;
}

let cached: Promise<TestCerts> | undefined;

export function testCerts(): Promise<TestCerts> {
  cached ??= make();
  return cached;
}

async function make(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'zg-certs-'));
  const ca = await createCa('Zonegate Test CA');
  const stranger = await createCa('Stranger CA');
  const server = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const serverRsa = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    keyType: 'rsa',
  });
  const other = await issueCert(ca, {
    commonName: 'other.test',
    dnsNames: ['other.test', 'localhost'],
    usage: 'server',
  });
  const clientUid = '4242';
  const client = await issueCert(ca, { commonName: clientUid, uid: clientUid, usage: 'client' });
  const revoked = await issueCert(ca, { commonName: '4343', uid: '4343', usage: 'client' });
  const strangerClient = await issueCert(stranger, { commonName: '4444', uid: '4444', usage: 'client' });
  const files: Record<string, string> = {
    ca: ca.certPem,
    serverCert: server.certPem,
    serverKey: server.keyPem,
    serverRsaCert: serverRsa.certPem,
    serverRsaKey: serverRsa.keyPem,
    otherCert: other.certPem,
    otherKey: other.keyPem,
    clientCert: client.certPem,
    clientKey: client.keyPem,
    revokedCert: revoked.certPem,
    revokedKey: revoked.keyPem,
    strangerCert: strangerClient.certPem,
    strangerKey: strangerClient.keyPem,
    crl: await createCrl(ca, [revoked.serialNumber]),
    ticketKeys: Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString('base64'),
  };
  const paths: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) {
    paths[k] = join(dir, `${k}.pem`);
    await writeFile(paths[k], v, { mode: 0o600 });
  }
  const p = (k: string): string => paths[k]!;
  return {
    dir,
    ca: p('ca'),
    caPem: ca.certPem,
    serverCert: p('serverCert'),
    serverKey: p('serverKey'),
    serverRsaCert: p('serverRsaCert'),
    serverRsaKey: p('serverRsaKey'),
    otherCert: p('otherCert'),
    otherKey: p('otherKey'),
    clientCert: p('clientCert'),
    clientKey: p('clientKey'),
    clientUid,
    revokedCert: p('revokedCert'),
    revokedKey: p('revokedKey'),
    strangerCert: p('strangerCert'),
    strangerKey: p('strangerKey'),
    crl: p('crl'),
    ticketKeys: p('ticketKeys'),
    authority: ca,
    clientSerial: client.serialNumber,
    revokedSerial: revoked.serialNumber,
  };
}
