/**
 * The uid of a verified client certificate, by the configured rule (`identity.certUid`):
 * SAN URI, SAN email or subject CN, optionally narrowed by a regex with one capture group.
 * Read once per TLS connection, never per request. OpenSSL has already verified the chain.
 */
import type { TLSSocket } from 'node:tls';
import type { CertUidConfig } from '../core/config.js';
import { connectionInfo } from '../listeners/index.js';

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

export function certUidReader(cfg: CertUidConfig | undefined, uidPattern: RegExp): CertUidReader | null {
  if (cfg === undefined) return null;
  const narrow = cfg.pattern === undefined ? null : new RegExp(cfg.pattern);
  const pick = (candidates: readonly string[]): string | null => {
    for (const c of candidates) {
      let uid: string | null = c;
      if (narrow !== null) {
        const m = narrow.exec(c);
        uid = m === null ? null : (m[1] ?? m[0]);
      }
      if (uid !== null && uidPattern.test(uid)) return uid;
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
    switch (cfg.from) {
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
