/**
 * The gateway config (docs/design.md "Config"): read YAML or JSON, validate against
 * policies/config.schema.json (defaults come from the schema, so they live in one place),
 * run the cross-field checks a schema cannot express, resolve file paths against the config
 * file's folder, and hand back a deeply frozen object.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DocumentReadError, InvalidConfigError, type Problem } from './errors.js';
import { compileSchema, loadPolicySchema } from './schema.js';
import { checkRedisStoreConfig, type RedisStoreConfig } from './redis-config.js';
import type { MqttSectionConfig, MqttUidConfig } from './mqtt-config.js';
import { uidPatternProblem } from './uid-pattern.js';
import { cidrProblem, cidrSet } from './cidr.js';

export type ListenerProtocol = 'http' | 'https' | 'mqtt' | 'mqtts';

export interface SniCertConfig {
  readonly servername: string;
  readonly cert: string;
  readonly key: string;
}

export interface TlsConfig {
  readonly cert: string;
  readonly key: string;
  readonly extraCerts: readonly { readonly cert: string; readonly key: string }[];
  readonly ca?: string;
  readonly requestCert: boolean;
  readonly clientCertOptional: boolean;
  readonly crl?: string;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly alpn?: readonly ('h2' | 'http/1.1')[];
  readonly sni: readonly SniCertConfig[];
  readonly sessionTicketKeyFile?: string;
  /** OpenSSL cipher list, TLS 1.3 suites (`TLS_…`) and TLS 1.2 ones together. */
  readonly ciphers: string;
  /** Key exchange groups, in preference order (`X25519:P-256:P-384`). */
  readonly ecdhCurve: string;
  readonly watch: boolean;
  readonly watchIntervalMs: number;
}

export interface HstsConfig {
  readonly maxAgeSec: number;
  readonly includeSubDomains: boolean;
  readonly preload: boolean;
}

export interface ListenerConfig {
  readonly name: string;
  readonly protocol: ListenerProtocol;
  readonly port: number;
  readonly host: string;
  readonly proxyProtocol: boolean;
  /**
   * Connections the kernel holds for the gateway to accept (listen(2) backlog; the kernel caps
   * it at net.core.somaxconn). A reconnect storm beyond it loses SYNs: each costs its client a
   * one-second retransmit.
   */
  readonly backlog: number;
  /** Sources (CIDRs) a PROXY header is believed from; any other peer is closed at once. */
  readonly trustedProxies: readonly string[];
  readonly tls?: TlsConfig;
  /** https only: `Strict-Transport-Security` on every response. */
  readonly hsts?: HstsConfig;
}

/**
 * `zonemap.redis` after the schema filled its defaults: the store's own config type
 * (src/core/redis-config.ts) with those fields no longer optional.
 */
export type ZoneMapRedisConfig = RedisStoreConfig &
  Required<
    Pick<
      RedisStoreConfig,
      'keyPrefix' | 'pollIntervalMs' | 'reportIntervalMs' | 'connectTimeoutMs' | 'snapshotFile'
    >
  >;

export interface ZoneMapSourceConfig {
  readonly file?: string;
  readonly redis?: ZoneMapRedisConfig;
}

export interface CookieKeyConfig {
  readonly id: string;
  readonly secret?: string;
  readonly secretFile?: string;
}

export interface CookieConfig {
  readonly name: string;
  readonly keys: readonly CookieKeyConfig[];
  readonly maxAgeSec: number;
  readonly secure: boolean;
  readonly verifiedCacheSize: number;
}

export interface CertUidConfig {
  readonly from: 'san-uri' | 'san-email' | 'cn';
  readonly pattern?: string;
}

/** Where an MQTT connection's uid comes from (docs/mqtt.md). */
export type MqttIdentityConfig = MqttUidConfig;

export interface IdentityConfig {
  readonly uidHeader: string;
  readonly uidPattern: string;
  readonly cookie: CookieConfig;
  readonly certUid?: CertUidConfig;
  readonly mqtt: MqttIdentityConfig;
}

export interface TimeoutsConfig {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tlsHandshakeTimeoutMs: number;
  readonly proxyProtocolTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamResponseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly transferIdleTimeoutMs: number;
  readonly shutdownGraceMs: number;
}

/** `limits.clientIp`: per-client-address limits (src/listeners/client-limits.ts enforces them). */
export interface ClientLimitsConfig {
  /** Open connections one client may hold across every listener; 0 turns the check off. */
  readonly maxConnections: number;
  /** Sustained HTTP requests per second per client; 0 turns the rate limit off. */
  readonly requestsPerSec: number;
  /**
   * HTTP requests one client may have in flight at once, across its connections; 0 turns the
   * check off. What stops a client that never reads (or never finishes sending) from holding
   * a zone's whole upstream pool until the transfer timeouts free it.
   */
  readonly maxActiveRequests: number;
  /** Requests a client may send at once above the sustained rate (bucket size). */
  readonly burst: number;
  /** Bound on the rate table (one entry per recently seen client). */
  readonly trackedClients: number;
  /** Sources never limited (CIDRs): the host itself, monitoring, peer gateways. */
  readonly exempt: readonly string[];
}

export interface LimitsConfig {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly requestBufferBytes: number;
  readonly responseBufferBytes: number;
  readonly maxUpstreamRequestsPerConnection: number;
  readonly http2MaxConcurrentStreams: number;
  /** Per listener: connections still in their TLS handshake or PROXY header; beyond it the oldest is closed. */
  readonly maxPendingConnections: number;
  readonly clientIp: ClientLimitsConfig;
}

export interface UpstreamConfig {
  readonly connectionsPerEndpoint: number;
  readonly pipelining: number;
  readonly retryIdempotentOnConnectError: boolean;
  readonly ejection: { readonly consecutiveFailures: number; readonly ejectMs: number };
  readonly healthCheck: {
    readonly enabled: boolean;
    readonly path: string;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly healthyThreshold: number;
    readonly unhealthyThreshold: number;
  };
}

/** The `mqtt` section; its defaults and checks are in src/mqtt/options.ts. */
export type MqttConfig = MqttSectionConfig;

/** The admin listener; see src/admin/admin-server.ts. */
export interface AdminConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  readonly tokenFile?: string;
  readonly tls?: {
    readonly cert: string;
    readonly key: string;
    readonly ca?: string;
    readonly requestCert: boolean;
  };
  /** Allow a non-loopback host without tokenFile or client-cert auth (refused otherwise). */
  readonly allowUnauthenticatedRemote: boolean;
}

export interface LoggingConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** 0..1; failures are always logged. */
  readonly accessSampleRate: number;
}

/** Graceful drain; see src/gateway/drain.ts. */
export interface DrainConfig {
  /** /healthz fails this long before the listeners close (LVS must notice first). */
  readonly delayMs: number;
  /** Bound on in-flight work after the listeners close; then exit anyway. */
  readonly timeoutMs: number;
}

export interface WorkersConfig {
  /** 1: in-process; 0: one per CPU core. */
  readonly count: number;
  readonly restartDelayMs: number;
}

export interface GatewayConfig {
  readonly idc: string;
  readonly crossIdc: 'direct' | 'gateway';
  readonly listeners: readonly ListenerConfig[];
  readonly zonemap: ZoneMapSourceConfig;
  readonly identity: IdentityConfig;
  readonly timeouts: TimeoutsConfig;
  readonly limits: LimitsConfig;
  readonly upstream: UpstreamConfig;
  readonly mqtt: MqttConfig;
  readonly admin: AdminConfig;
  readonly logging: LoggingConfig;
  readonly drain: DrainConfig;
  readonly workers: WorkersConfig;
}

// Compiled once per process: validation is on the start/reload path only, never per request.
const checkSchema = compileSchema(loadPolicySchema('config.schema.json', import.meta.url), {
  useDefaults: true,
});

/** Checks that span several fields; the schema has already vouched for the types. */
function semanticProblems(cfg: GatewayConfig): Problem[] {
  const problems: Problem[] = [];
  const names = new Set<string>();
  const binds = new Set<string>();
  cfg.listeners.forEach((l, i) => {
    if (names.has(l.name))
      problems.push({ path: `listeners[${i}].name`, message: `duplicate listener name "${l.name}"` });
    names.add(l.name);
    const bind = `${l.host}:${l.port}`;
    if (l.port !== 0 && binds.has(bind))
      problems.push({ path: `listeners[${i}].port`, message: `${bind} is used by another listener` });
    binds.add(bind);
    const secure = l.protocol === 'https' || l.protocol === 'mqtts';
    if (secure && l.tls === undefined)
      problems.push({ path: `listeners[${i}].tls`, message: `is required for ${l.protocol}` });
    if (!secure && l.tls !== undefined) {
      problems.push({
        path: `listeners[${i}].tls`,
        message: `only https and mqtts listeners take tls (this one is ${l.protocol})`,
      });
    }
    if (l.tls?.requestCert === true && l.tls.ca === undefined) {
      problems.push({ path: `listeners[${i}].tls.ca`, message: 'is required when requestCert is true' });
    }
    l.trustedProxies.forEach((cidr, j) => {
      const problem = cidrProblem(cidr);
      if (problem !== null) problems.push({ path: `listeners[${i}].trustedProxies[${j}]`, message: problem });
    });
    if (l.hsts !== undefined && l.protocol !== 'https') {
      problems.push({
        path: `listeners[${i}].hsts`,
        message: `only https listeners send HSTS (this one is ${l.protocol})`,
      });
    }
    if (l.tls?.crl !== undefined && l.tls.ca === undefined) {
      problems.push({
        path: `listeners[${i}].tls.crl`,
        message: 'needs tls.ca (a CRL only applies to verified client certs)',
      });
    }
  });
  cfg.limits.clientIp.exempt.forEach((cidr, j) => {
    const problem = cidrProblem(cidr);
    if (problem !== null) problems.push({ path: `limits.clientIp.exempt[${j}]`, message: problem });
  });
  problems.push(...adminProblems(cfg.admin));
  const zm = cfg.zonemap;
  if ((zm.file === undefined) === (zm.redis === undefined)) {
    problems.push({ path: 'zonemap', message: 'set exactly one of file or redis' });
  }
  if (zm.redis !== undefined) problems.push(...checkRedisStoreConfig(zm.redis));
  const keyIds = new Set<string>();
  cfg.identity.cookie.keys.forEach((k, i) => {
    if ((k.secret === undefined) === (k.secretFile === undefined)) {
      problems.push({
        path: `identity.cookie.keys[${i}]`,
        message: 'set exactly one of secret or secretFile',
      });
    }
    if (keyIds.has(k.id))
      problems.push({ path: `identity.cookie.keys[${i}].id`, message: `duplicate key id "${k.id}"` });
    keyIds.add(k.id);
  });
  // One pattern convention for every identity pattern (src/identity/pattern.ts).
  for (const [path, pattern] of [
    ['identity.uidPattern', cfg.identity.uidPattern],
    ['identity.certUid.pattern', cfg.identity.certUid?.pattern],
    ['identity.mqtt.pattern', cfg.identity.mqtt.pattern],
  ] as const) {
    const problem = pattern === undefined ? null : uidPatternProblem(pattern);
    if (problem !== null) problems.push({ path, message: problem });
  }
  return problems;
}

const LOOPBACK = cidrSet(['127.0.0.0/8', '::1/128']);

/**
 * An admin listener others can reach must authenticate writes: /drain takes the gateway out
 * of service. Refused unless the operator says, in the config, that the network in front of
 * it does that job.
 */
function adminProblems(admin: AdminConfig): Problem[] {
  if (!admin.enabled || admin.allowUnauthenticatedRemote) return [];
  if (admin.host === 'localhost' || LOOPBACK.has(admin.host)) return [];
  const certAuth = admin.tls?.requestCert === true && admin.tls.ca !== undefined;
  if (admin.tokenFile !== undefined || certAuth) return [];
  return [
    {
      path: 'admin.host',
      message:
        `${admin.host} is reachable from other hosts but the admin listener has no tokenFile and no ` +
        'client-certificate auth (tls.requestCert with tls.ca); set one, bind 127.0.0.1, or set ' +
        'admin.allowUnauthenticatedRemote: true if the network in front of it restricts access',
    },
  ];
}

type Mutable = Record<string, unknown>;

/** File paths in the config are relative to the config file, not to the process's cwd. */
function resolvePaths(cfg: GatewayConfig, baseDir: string): void {
  const fix = (obj: Mutable, key: string): void => {
    const v = obj[key];
    if (typeof v === 'string' && !isAbsolute(v)) obj[key] = resolve(baseDir, v);
  };
  for (const l of cfg.listeners) {
    if (l.tls === undefined) continue;
    const tls = l.tls as unknown as Mutable;
    for (const k of ['cert', 'key', 'ca', 'crl', 'sessionTicketKeyFile']) fix(tls, k);
    for (const s of [...l.tls.sni, ...l.tls.extraCerts]) {
      fix(s, 'cert');
      fix(s, 'key');
    }
  }
  fix(cfg.zonemap as unknown as Mutable, 'file');
  const redis = cfg.zonemap.redis as unknown as Mutable | undefined;
  if (redis !== undefined) {
    for (const k of ['snapshotFile', 'passwordFile', 'sentinelPasswordFile']) fix(redis, k);
    if (cfg.zonemap.redis?.tls !== undefined) {
      for (const k of ['ca', 'cert', 'key']) fix(cfg.zonemap.redis.tls as unknown as Mutable, k);
    }
  }
  fix(cfg.admin as unknown as Mutable, 'tokenFile');
  if (cfg.admin.tls !== undefined) {
    for (const k of ['cert', 'key', 'ca']) fix(cfg.admin.tls, k);
  }
  for (const k of cfg.identity.cookie.keys) fix(k as unknown as Mutable, 'secretFile');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export interface ValidateConfigOptions {
  /** Folder that relative paths are resolved against; omit to leave paths as written. */
  readonly baseDir?: string;
  /** Name used in the error message (usually the file path). */
  readonly source?: string;
}

/**
 * Validate an already parsed document. Throws InvalidConfigError listing every problem.
 * The input is not modified; the result is a new, deeply frozen object with defaults applied.
 */
export function validateConfig(input: unknown, options: ValidateConfigOptions = {}): GatewayConfig {
  // structuredClone: ajv's useDefaults writes into the object it validates.
  const data: unknown = input === null || typeof input !== 'object' ? input : structuredClone(input);
  const schemaProblems = checkSchema(data);
  if (schemaProblems.length > 0) throw new InvalidConfigError(schemaProblems, options.source);
  const config = data as GatewayConfig;
  const problems = semanticProblems(config);
  if (problems.length > 0) throw new InvalidConfigError(problems, options.source);
  if (options.baseDir !== undefined) resolvePaths(config, options.baseDir);
  return deepFreeze(config);
}

/** Parse YAML (a superset of JSON) text; throws DocumentReadError with the parser's reason. */
export function parseConfigText(text: string, sourceName: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new DocumentReadError(`${sourceName}: cannot parse: ${(err as Error).message}`, err);
  }
}

/** Read, parse and validate a config file; relative paths in it are resolved against its folder. */
export async function loadConfigFile(path: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DocumentReadError(`${path}: cannot read: ${(err as Error).message}`, err);
  }
  return validateConfig(parseConfigText(text, path), { baseDir: dirname(resolve(path)), source: path });
}
