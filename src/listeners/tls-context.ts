/**
 * Loads a listener's TLS material (default certs, SNI certs, CA, CRL, ticket keys) from disk
 * into OpenSSL contexts. Everything is verified by OpenSSL; nothing here parses certificates.
 */
import { createHash, hkdfSync, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { TlsConfig } from '../core/config.js';
import { TlsConfigError } from './errors.js';

export interface LoadedTls {
  /** Options for the default context (server.setSecureContext takes the same). */
  readonly options: SecureContextOptions;
  /** Exact names first, then wildcards; checked in order by the SNI callback. */
  readonly sni: readonly {
    readonly exact: string | null;
    readonly suffix: string | null;
    readonly context: SecureContext;
  }[];
  /**
   * 48 bytes shared by the fleet, or null to let OpenSSL pick per process keys. Derived from
   * the key file and the CA + CRL in force, so a CA or CRL change voids every ticket issued
   * before it while gateways with the same files still resume each other's sessions.
   */
  readonly ticketKeys: Buffer | null;
  /** Earliest expiry (ms since epoch) of the leaf certificates served: default, extra and SNI. */
  readonly notAfterMs: number;
  /** Digest of the CA bundle and CRL: when it changes, sessions made under the old ones are void. */
  readonly trustDigest: string;
  /** What a resumed session's client certificate is checked against (null without `ca`). */
  readonly trust: ClientTrust | null;
}

/** The leaf (first) certificate's expiry; OpenSSL has already accepted the PEM. */
function leafNotAfterMs(pem: Buffer): number {
  return Date.parse(new X509Certificate(pem).validTo);
}

/** The CA bundle and CRL in force, parsed once per load for resumed-session checks. */
export interface ClientTrust {
  readonly cas: readonly X509Certificate[];
  /** Revoked serial numbers, upper-case hex without leading zeros. */
  readonly revoked: ReadonlySet<string>;
}

async function read(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new TlsConfigError(`cannot read ${what} ${path}: ${(err as Error).message}`, err);
  }
}

/** Raw 48 bytes, or the same as base64 / hex text (what `openssl rand -base64 48` writes). */
export function parseTicketKeys(data: Buffer, path: string): Buffer {
  if (data.length === 48) return data;
  const text = data.toString('latin1').trim();
  const hex = /^[0-9a-fA-F]{96}$/.test(text) ? Buffer.from(text, 'hex') : null;
  const keys = hex ?? Buffer.from(text, 'base64');
  if (keys.length !== 48) {
    throw new TlsConfigError(
      `session ticket key file ${path} must hold 48 bytes (raw, hex or base64), got ${keys.length}`,
    );
  }
  return keys;
}

function pemBlocks(pem: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g');
  return pem.match(re) ?? [];
}

function normSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

async function parseTrust(ca: Buffer, crl: Buffer | undefined, cfg: TlsConfig): Promise<ClientTrust> {
  try {
    const cas = pemBlocks(ca.toString('latin1'), 'CERTIFICATE').map((p) => new X509Certificate(p));
    const revoked = new Set<string>();
    if (crl !== undefined) {
      // Loaded only where a CRL is configured: the CLI (config check) must not depend on it.
      const { X509Crl } = await import('@peculiar/x509');
      for (const block of pemBlocks(crl.toString('latin1'), 'X509 CRL')) {
        for (const e of new X509Crl(block).entries) revoked.add(normSerial(e.serialNumber));
      }
    }
    return { cas, revoked };
  } catch (err) {
    throw new TlsConfigError(
      `cannot parse CA ${cfg.ca ?? ''} / CRL ${cfg.crl ?? ''}: ${(err as Error).message}`,
      err,
    );
  }
}

/**
 * Whether a resumed session's client certificate still passes against the CA and CRL in force
 * now. A resumed session skips OpenSSL's verification (its result was stored in the ticket or
 * session cache when the session was made), so without this a certificate revoked since then
 * would keep working for as long as the client resumes. Checks that the leaf is not revoked and
 * was signed by one of the current CAs (the deployments we serve issue client certs straight
 * from the configured CA; an intermediate-issued leaf simply gets a full handshake next time).
 */
export function resumedPeerTrusted(trust: ClientTrust | null, socket: TLSSocket): boolean {
  if (trust === null) return false;
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return false;
  if (trust.revoked.has(normSerial(peer.serialNumber))) return false;
  return trust.cas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
}

/** Every file the material comes from: these are the ones watched for hot reload. */
export function tlsFiles(cfg: TlsConfig): string[] {
  const files = [cfg.cert, cfg.key];
  for (const e of cfg.extraCerts) files.push(e.cert, e.key);
  if (cfg.ca !== undefined) files.push(cfg.ca);
  if (cfg.crl !== undefined) files.push(cfg.crl);
  for (const s of cfg.sni) files.push(s.cert, s.key);
  if (cfg.sessionTicketKeyFile !== undefined) files.push(cfg.sessionTicketKeyFile);
  return files;
}

function context(options: SecureContextOptions, what: string): SecureContext {
  try {
    return createSecureContext(options);
  } catch (err) {
    // OpenSSL's own words (e.g. "key values mismatch") are the useful part.
    throw new TlsConfigError(`${what}: ${(err as Error).message}`, err);
  }
}

/** Read every file and build the contexts; throws TlsConfigError naming the bad file. */
export async function loadTls(cfg: TlsConfig, listenerName: string): Promise<LoadedTls> {
  const certs = [await read(cfg.cert, 'certificate')];
  const keys = [await read(cfg.key, 'key')];
  for (const e of cfg.extraCerts) {
    certs.push(await read(e.cert, 'certificate'));
    keys.push(await read(e.key, 'key'));
  }
  const ca = cfg.ca === undefined ? undefined : await read(cfg.ca, 'CA bundle');
  const crl = cfg.crl === undefined ? undefined : await read(cfg.crl, 'CRL');
  const digest = createHash('sha256');
  digest.update(ca ?? Buffer.alloc(0));
  digest.update('\0');
  digest.update(crl ?? Buffer.alloc(0));
  const trustDigest = digest.digest('hex');
  const ticketKeys =
    cfg.sessionTicketKeyFile === undefined
      ? null
      : Buffer.from(
          hkdfSync(
            'sha256',
            parseTicketKeys(
              await read(cfg.sessionTicketKeyFile, 'session ticket key file'),
              cfg.sessionTicketKeyFile,
            ),
            Buffer.from(trustDigest, 'hex'),
            'zonegate session ticket keys',
            48,
          ),
        );
  const trust = ca === undefined ? null : await parseTrust(ca, crl, cfg);
  // What every context shares: client verification, versions and ciphers must not depend on the SNI name.
  const common: SecureContextOptions = {
    minVersion: cfg.minVersion,
    ciphers: cfg.ciphers,
    ecdhCurve: cfg.ecdhCurve,
    honorCipherOrder: true,
    ...(ca === undefined ? {} : { ca }),
    ...(crl === undefined ? {} : { crl }),
    ...(ticketKeys === null ? {} : { ticketKeys }),
  };
  const options: SecureContextOptions = { ...common, cert: certs, key: keys };
  // Build once now so a bad default cert fails here with its name, not later inside setSecureContext.
  context(options, `listener ${listenerName} default certificate ${cfg.cert} / key ${cfg.key}`);
  const sni: { exact: string | null; suffix: string | null; context: SecureContext }[] = [];
  let notAfterMs = Math.min(...certs.map(leafNotAfterMs));
  for (const s of cfg.sni) {
    const cert = await read(s.cert, 'certificate');
    notAfterMs = Math.min(notAfterMs, leafNotAfterMs(cert));
    const ctx = context(
      { ...common, cert, key: await read(s.key, 'key') },
      `listener ${listenerName} SNI ${s.servername} certificate ${s.cert}`,
    );
    const name = s.servername.toLowerCase();
    // RFC 6125 §6.4.3: a wildcard covers exactly one left-most label.
    if (name.startsWith('*.')) sni.push({ exact: null, suffix: name.slice(1), context: ctx });
    else sni.push({ exact: name, suffix: null, context: ctx });
  }
  sni.sort((a, b) => (a.exact === null ? 1 : 0) - (b.exact === null ? 1 : 0));
  return { options, sni, ticketKeys, notAfterMs, trustDigest, trust };
}

/** The SNI entry for a client's server name, or undefined for the default context. */
export function pickSni(loaded: LoadedTls, servername: string): SecureContext | undefined {
  const name = servername.toLowerCase();
  for (const e of loaded.sni) {
    if (e.exact !== null) {
      if (e.exact === name) return e.context;
    } else if (
      e.suffix !== null &&
      name.length > e.suffix.length &&
      name.endsWith(e.suffix) &&
      !name.slice(0, -e.suffix.length).includes('.')
    ) {
      return e.context;
    }
  }
  return undefined;
}
