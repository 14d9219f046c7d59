/**
 * The uid of a verified client certificate, by the configured rule (`identity.certUid`):
 * SAN URI, SAN email or subject CN, optionally narrowed by a pattern (src/identity/pattern.ts).
 * Read once per TLS connection, never per request. OpenSSL has already verified the chain.
 *
 * UTF-8: a CN is a UTF8String (Node hands it over decoded); a SAN URI is ASCII, so a non-ASCII
 * uid in it is percent-encoded UTF-8 (RFC 3986) and is decoded after the pattern picked it.
 */
import type { TLSSocket } from 'node:tls';
import type { CertUidConfig } from '../core/config.js';
import { connectionInfo } from '../listeners/index.js';
import { compileUidPattern, pickUid } from './pattern.js';
import { readUidBytes } from './uid-header.js';

export type CertUidReader = (socket: TLSSocket) => string | null;

/** Node renders SANs as `URI:a, email:b, DNS:c` (values with commas are JSON-quoted). */
function sanValues(san: string | undefined, kind: 'URI' | 'email'): string[] {
  if (san === undefined) return [];
  const out: string[] = [];
  const prefix = `${kind}:`;
  for (const part of san.split(', ')) {
    if (!part.startsWith(prefix)) continue;
    let v = part.slice(prefix.length);
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v) as string;
      } catch {
        continue;
      }
    }
    out.push(v);
  }
  return out;
}

/** A SAN URI's uid part: percent-decoded, and UTF-8, or no uid. */
function decodeUri(v: string): string | null {
  if (!v.includes('%')) return v;
  const r = readUidBytes(Buffer.from(v, 'utf8'));
  return r.ok ? r.uid : null;
}

/**
 * @param uidPattern the compiled `identity.uidPattern` (null: no check, as for MQTT's own rule)
 */
export function certUidReader(
  cfg: CertUidConfig | undefined,
  uidPattern: RegExp | null,
): CertUidReader | null {
  if (cfg === undefined) return null;
  const narrow =
    cfg.pattern === undefined ? null : compileUidPattern('identity.certUid.pattern', cfg.pattern);
  return certReader(cfg.from, narrow, uidPattern);
}

/** The reader for a field, narrowed by an already compiled pattern (MQTT's CN rule uses it). */
export function certReader(
  from: CertUidConfig['from'],
  narrow: RegExp | null,
  uidPattern: RegExp | null,
): CertUidReader {
  const uri = from === 'san-uri';
  const pick = (candidates: readonly string[]): string | null => {
    for (const c of candidates) {
      let uid: string | null = narrow === null ? c : pickUid(narrow, c);
      if (uid !== null && uri) uid = decodeUri(uid);
      if (uid !== null && uid !== '' && (uidPattern === null || uidPattern.test(uid))) return uid;
    }
    return null;
  };
  return (socket) => {
    // Only a certificate OpenSSL accepted may name the user.
    if (!socket.authorized) return null;
    // A resumed session was not verified now: Node reports `authorized` from the ticket, made
    // under whatever CA and CRL were in force then. Only the listener's re-check counts.
    const trusted = connectionInfo(socket)?.peerCertTrusted;
    if (trusted === false || (trusted === undefined && socket.isSessionReused())) return null;
    const cert = socket.getPeerCertificate();
    if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return null;
    switch (from) {
      case 'san-uri':
        return pick(sanValues(cert.subjectaltname, 'URI'));
      case 'san-email':
        return pick(sanValues(cert.subjectaltname, 'email'));
      case 'cn': {
        const cn = (cert.subject as { CN?: string | string[] } | undefined)?.CN;
        return pick(cn === undefined ? [] : Array.isArray(cn) ? cn : [cn]);
      }
    }
  };
}
