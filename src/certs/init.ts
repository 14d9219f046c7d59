/**
 * `zonegate certs init DIR`: a dev CA, a server cert, a client cert with a uid, an empty CRL,
 * and a random zone-cookie secret, so the example gateway config starts as it is.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createCrl, issueCert } from './generate.js';
import { toPkcs12 } from './pkcs12.js';

export interface InitCertsOptions {
  readonly uid: string;
  /** Protects client.p12; mobile keychains refuse an empty one. */
  readonly p12Password: string;
  readonly serverNames?: readonly string[];
  readonly serverIps?: readonly string[];
}

export interface InitCertsResult {
  /** Every file written, by role. */
  readonly files: Readonly<
    Record<
      | 'ca'
      | 'caKey'
      | 'serverCert'
      | 'serverKey'
      | 'clientCert'
      | 'clientKey'
      | 'clientP12'
      | 'crl'
      | 'cookieSecret',
      string
    >
  >;
}

export async function initCerts(dir: string, o: InitCertsOptions): Promise<InitCertsResult> {
  await mkdir(dir, { recursive: true });
  const ca = await createCa();
  const server = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: o.serverNames ?? ['localhost'],
    ipAddresses: o.serverIps ?? ['127.0.0.1', '::1'],
    usage: 'server',
  });
  const client = await issueCert(ca, { commonName: o.uid, uid: o.uid, usage: 'client' });
  const files = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
    clientP12: join(dir, 'client.p12'),
    crl: join(dir, 'crl.pem'),
    cookieSecret: join(dir, 'cookie.secret'),
  };
  // Keys are written owner-only: a dev CA key that leaks still signs certs this gateway trusts.
  const secret = { mode: 0o600 } as const;
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.caKey, ca.keyPem, secret);
  await writeFile(files.serverCert, server.certPem + ca.certPem);
  await writeFile(files.serverKey, server.keyPem, secret);
  await writeFile(files.clientCert, client.certPem);
  await writeFile(files.clientKey, client.keyPem, secret);
  await writeFile(
    files.clientP12,
    toPkcs12({
      keyDer: client.keyDer,
      certsDer: [client.certDer, ca.certDer],
      password: o.p12Password,
      friendlyName: `zonegate uid ${o.uid}`,
    }),
    secret,
  );
  await writeFile(files.crl, await createCrl(ca, []));
  // 32 random bytes, base64: the cookie keyring reads the file's text as the HMAC secret.
  await writeFile(files.cookieSecret, `${randomBytes(32).toString('base64')}\n`, secret);
  return { files };
}
