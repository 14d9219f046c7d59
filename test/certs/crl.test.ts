/**
 * A CRL made by `createCrl` revokes the certificates `issueCert` made, whatever their serial
 * looks like, as OpenSSL (`openssl verify -crl_check`) judges it. A serial whose first byte
 * has its top bit set is printed without the zero byte DER puts in front of it (`fe99...`
 * for `00 fe 99 ...`); written back as is, it used to become a negative number in the CRL
 * that revoked nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createCa, createCrl, issueCert, type CertificateAuthority } from '../../src/certs/index.js';

const run = promisify(execFile);

async function verify(
  dir: string,
  ca: CertificateAuthority,
  certPem: string,
  crlPem: string,
): Promise<string> {
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), crl: join(dir, 'crl.pem') };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert, certPem);
  await writeFile(files.crl, crlPem);
  const r = await run('openssl', [
    'verify',
    '-crl_check',
    '-CAfile',
    files.ca,
    '-CRLfile',
    files.crl,
    files.cert,
  ]).then(
    (ok) => ok.stdout + ok.stderr,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
  return r;
}

describe('certificate revocation lists', () => {
  for (const serial of [
    '00fe995db9ef8982143c0666ffdfee03',
    'fe995db9ef8982143c0666ffdfee03',
    '7e99',
    '0001',
    '80',
  ]) {
    it(`revokes a certificate with serial ${serial}, listed as issueCert reports it`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'zg-crl-'));
      const ca = await createCa('CRL Test CA');
      const cert = await issueCert(ca, {
        commonName: '5042',
        uid: '5042',
        usage: 'client',
        serialNumber: serial,
      });
      const other = await issueCert(ca, { commonName: '6042', uid: '6042', usage: 'client' });
      const crl = await createCrl(ca, [cert.serialNumber]);
      assert.match(await verify(dir, ca, cert.certPem, crl), /certificate revoked/);
      assert.match(await verify(dir, ca, other.certPem, crl), /: OK/);
      // As openssl x509 -serial prints it (upper case, colon-free) it names the same certificate.
      const upper = await createCrl(ca, [cert.serialNumber.toUpperCase()]);
      assert.match(await verify(dir, ca, cert.certPem, upper), /certificate revoked/);
    });
  }

  it('refuses a serial that is not hexadecimal', async () => {
    const ca = await createCa('CRL Test CA');
    await assert.rejects(createCrl(ca, ['12xz']), /not a hexadecimal serial number: 12xz/);
  });
});
