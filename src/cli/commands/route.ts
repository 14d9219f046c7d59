import { UsageError } from '../../core/errors.js';
import type { CookieKey } from '../../identity/cookie.js';
import type { Identity } from '../../router/index.js';
import { flag, oneOf, optionalString, requiredString } from '../../core/args.js';
import type { Command } from '../command.js';

const MAX_COOKIE_AGE_SEC = 10 * 365 * 24 * 3600;

export const route: Command = {
  name: 'route',
  summary: 'Print the routing decision for a uid or a zone cookie as JSON.',
  usage:
    'zonegate route --map MAP --idc IDC (--uid UID | --cookie VALUE [--cookie-keys FILE]) [--path P]\n' +
    '                [--cross-idc direct|gateway] [--hopped] [--json]\n' +
    '  (the decision is always JSON; --json is accepted like on every other command)',
  options: {
    map: { type: 'string' },
    idc: { type: 'string' },
    uid: { type: 'string' },
    cookie: { type: 'string' },
    'cookie-keys': { type: 'string' },
    path: { type: 'string', default: '/' },
    'cross-idc': { type: 'string' },
    hopped: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const mapFile = requiredString(values, 'map');
    const idc = requiredString(values, 'idc');
    const uid = optionalString(values, 'uid');
    const cookie = optionalString(values, 'cookie');
    const path = optionalString(values, 'path') ?? '/';
    if (uid !== undefined && cookie !== undefined) throw new UsageError('give --uid or --cookie, not both');
    if (uid === undefined && cookie === undefined) throw new UsageError('give --uid UID or --cookie VALUE');
    if (uid === '') throw new UsageError('--uid must not be empty');

    const { loadZoneMapFile } = await import('../../zonemap/index.js');
    const { CookieKeyring, decodeCookieUnverified } = await import('../../identity/cookie.js');
    const { decide, routeKindFor } = await import('../../router/index.js');
    const map = await loadZoneMapFile(mapFile);
    if (!map.idcs.has(idc)) {
      throw new UsageError(`unknown IDC '${idc}' (the map has ${[...map.idcs.keys()].join(', ')})`);
    }

    let identity: Identity = { uid: uid ?? null, source: uid === undefined ? 'none' : 'header' };
    let cookieReport: Record<string, unknown> | undefined;
    if (cookie !== undefined) {
      const keysFile = optionalString(values, 'cookie-keys');
      if (keysFile === undefined) {
        // Without keys we can only read the claims; say so loudly instead of pretending.
        const claims = decodeCookieUnverified(cookie);
        if (claims === null) throw new UsageError('--cookie is not a zone cookie');
        io.err('warning: cookie signature not checked (pass --cookie-keys FILE to verify it)');
        identity = { uid: claims.uid, source: 'cookie' };
        cookieReport = { verified: false, uid: claims.uid, zone: claims.zone, keyId: claims.keyId };
      } else {
        const keyring = await CookieKeyring.create(await readKeys(keysFile));
        const verdict = await keyring.verify(cookie, Math.floor(Date.now() / 1000), MAX_COOKIE_AGE_SEC);
        if (verdict.ok) {
          identity = { uid: verdict.uid, source: 'cookie' };
          cookieReport = { verified: true, uid: verdict.uid, zone: verdict.zone, keyId: verdict.keyId };
        } else {
          // An untrusted cookie is ignored, exactly as the gateway does: the request is anonymous.
          cookieReport = { verified: false, rejected: verdict.reason };
        }
      }
    }

    const kind = routeKindFor(map, path);
    const crossIdc = oneOf(values, 'cross-idc', ['direct', 'gateway'] as const, 'direct');
    const d = decide(identity, kind, map, { idc, crossIdc }, Math.random, flag(values, 'hopped'));
    const out = d.ok
      ? {
          zone: d.zone,
          colour: d.colour,
          idc: d.idc,
          via: d.via,
          reason: d.reason,
          ...(d.via === 'gateway' ? { gateways: d.gateways } : {}),
          kind: d.kind,
          shard: d.shard >= 0 ? d.shard : null,
          uid: identity.uid,
          mapVersion: map.version,
        }
      : {
          zone: null,
          colour: null,
          idc: null,
          via: null,
          reason: d.reason,
          detail: d.detail,
          kind: d.kind,
          shard: d.shard >= 0 ? d.shard : null,
          uid: identity.uid,
          mapVersion: map.version,
        };
    io.out(JSON.stringify(cookieReport === undefined ? out : { ...out, cookie: cookieReport }));
    return 0;
  },
};

async function readKeys(file: string): Promise<CookieKey[]> {
  const { parseDocument, readDocumentFile } = await import('../../zonemap/index.js');
  const doc = parseDocument(await readDocumentFile(file), file);
  const list = Array.isArray(doc) ? (doc as unknown[]) : null;
  const keys = list?.filter(
    (k): k is CookieKey =>
      typeof k === 'object' &&
      k !== null &&
      typeof (k as CookieKey).id === 'string' &&
      typeof (k as CookieKey).secret === 'string',
  );
  if (list === null || keys === undefined || keys.length !== list.length || keys.length === 0) {
    throw new UsageError(`${file}: expected a list of {id, secret} cookie keys`);
  }
  return keys;
}
