/**
 * Who may change state through the admin API: a bearer token read from a file, or a client
 * certificate signed by the admin CA (when the admin listener runs TLS with requestCert).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AdminTokenFileError, AdminUnauthorizedError } from './errors.js';

/**
 * Compares in constant time. Both sides are hashed first so that neither the token's length
 * nor the position of the first differing byte leaks through timing.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/**
 * The token file is read on every write request, not cached: writes are rare, and a rotated
 * token (a new Kubernetes Secret projected into the pod) takes effect without a restart.
 */
export async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AdminTokenFileError(path, err);
  }
  const token = text.trim();
  if (token === '') throw new AdminTokenFileError(path);
  return token;
}

function hasTrustedClientCert(req: IncomingMessage): boolean {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true) return false;
  // On a resumed TLS session Node reports `authorized === true` even when the original
  // handshake carried no (or an untrusted) client certificate — seen with TLS 1.3 tickets.
  // Only a full handshake that verified a certificate counts; admin-server.ts also turns
  // tickets off so honest clients always do one.
  if (socket.isSessionReused?.() !== false) return false;
  const peer = socket.getPeerCertificate?.();
  return peer !== undefined && peer.raw !== undefined && peer.raw.length > 0;
}

/** Resolves when the request may change state; throws AdminUnauthorizedError otherwise. */
export async function authorizeWrite(req: IncomingMessage, tokenFile: string | null): Promise<void> {
  if (hasTrustedClientCert(req)) return;
  const header = req.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) throw new AdminUnauthorizedError();
  if (tokenFile === null) {
    throw new AdminUnauthorizedError('no admin token is configured; use a client certificate');
  }
  const expected = await readToken(tokenFile);
  if (!tokensEqual(header.slice('Bearer '.length).trim(), expected)) {
    throw new AdminUnauthorizedError('invalid bearer token');
  }
}
