/**
 * `zonegate demo`: the example three-site five-center map, one in-process upstream per zone
 * and colour, an HTTP and an HTTPS listener for IDC hz-1 (dev certs made on the fly), and
 * no Redis. Everything lives in a temp folder that is removed on close.
 *
 * The gateway runs the way `zonegate start` runs it (runGatewayProcess: metrics, access log,
 * admin listener), so /metrics and /healthz show what the curl lines do. The admin listener is
 * on loopback whatever `host` is: the demo has no token, and /metrics is nobody else's business.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { runGatewayProcess } from '../admin/operations.js';
import { initCerts } from '../certs/index.js';
import { validateConfig } from '../core/config.js';
import { loadZoneMapFile } from '../zonemap/index.js';
import { startDemoUpstreams, type DemoUpstreams } from './demo-upstreams.js';
import type { Gateway } from './gateway.js';

export const EXAMPLE_MAP = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

export interface DemoOptions {
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** The admin listener's port on 127.0.0.1 (`zonegate demo` uses 9901, the config default; 0 picks one). */
  readonly adminPort: number;
  /** Runtime and access log; default pino on stdout, like `zonegate start` without one. */
  readonly logger?: Logger;
  /**
   * Called when SIGTERM / SIGINT finished the drain, exactly as for `zonegate start`; the
   * caller then closes the demo (upstreams, temp folder). Without it signals are not handled.
   */
  readonly exit?: (code: number) => void;
}

export interface Demo {
  readonly gateway: Gateway;
  readonly upstreams: DemoUpstreams;
  readonly dir: string;
  /** `http://127.0.0.1:PORT` of the admin listener (/metrics, /healthz, /readyz, /zonemap). */
  readonly adminUrl: string;
  /** The curl commands to try, one per line, with comments. */
  readonly tryThis: string;
  close(): Promise<void>;
}

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const dir = await mkdtemp(join(tmpdir(), 'zonegate-demo-'));
  const map = await loadZoneMapFile(EXAMPLE_MAP);
  const upstreams = await startDemoUpstreams(map.doc);
  const mapFile = join(dir, 'zonemap.json');
  await writeFile(mapFile, JSON.stringify(upstreams.doc, null, 2));
  const certs = await initCerts(join(dir, 'certs'), { uid: '4242', p12Password: 'zonegate' });
  const config = validateConfig({
    idc: 'hz-1',
    crossIdc: 'direct',
    listeners: [
      { name: 'http', protocol: 'http', port: o.httpPort, host: o.host },
      {
        name: 'https',
        protocol: 'https',
        port: o.httpsPort,
        host: o.host,
        tls: {
          cert: certs.files.serverCert,
          key: certs.files.serverKey,
          ca: certs.files.ca,
          crl: certs.files.crl,
          // Ask for a client cert (it names the uid) but serve browsers without one too.
          requestCert: true,
          clientCertOptional: true,
        },
      },
    ],
    zonemap: { file: mapFile },
    identity: {
      // A fresh key per run; `secure: false` so the plain-HTTP curl lines below keep the cookie.
      cookie: { keys: [{ id: 'demo', secret: randomBytes(24).toString('base64url') }], secure: false },
      certUid: { from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' },
    },
    upstream: { healthCheck: { intervalMs: 5000 } },
    timeouts: { shutdownGraceMs: 2000 },
    admin: { host: '127.0.0.1', port: o.adminPort },
    // Nobody balances onto a demo: Ctrl-C should not wait for an LVS probe to notice.
    drain: { delayMs: 0, timeoutMs: 5000 },
  });
  let gateway: Gateway;
  let closeOperations: () => Promise<void>;
  let adminUrl: string;
  try {
    // One process, drained on SIGTERM / SIGINT the way `zonegate start` drains.
    const p = await runGatewayProcess({
      config,
      workers: 1,
      handleSignals: o.exit !== undefined,
      ...(o.exit === undefined ? {} : { exit: o.exit }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
    });
    if (p.role === 'primary') throw new Error('the demo runs one process');
    gateway = p.gateway;
    const operations = p.operations;
    closeOperations = () => operations.close();
    adminUrl = operations.admin?.url ?? '';
  } catch (err) {
    await upstreams.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const http = gateway.urls().find((u) => u.name === 'http')!.url;
  const https = gateway.urls().find((u) => u.name === 'https')!.url;
  const jar = join(dir, 'cookies.txt');
  const f = certs.files;
  const tryThis = [
    `Zonegate demo: IDC hz-1 of the three-site five-center map (${EXAMPLE_MAP})`,
    `  HTTP  ${http}`,
    `  HTTPS ${https}   (CA: ${f.ca})`,
    `  admin ${adminUrl}   (loopback only)`,
    '',
    '# anonymous: a weighted RZone of hz-1 (rz00 or rz01)',
    `curl -s ${http}/`,
    '# a uid: the zone that owns its shard (uid 1234 → shard 34 → rz03 in hz-2)',
    `curl -s -H 'x-ldc-uid: 1234' ${http}/orders`,
    '# log in: the upstream names the user, the gateway sets the signed ldc cookie',
    `curl -s -c ${jar} '${http}/login?uid=1234' -D - -o /dev/null | grep -i set-cookie`,
    '# the cookie alone now pins the user to rz03',
    `curl -s -b ${jar} ${http}/orders`,
    '# a GZone path and a CZone path',
    `curl -s ${http}/global/config`,
    `curl -s ${http}/static/app.js`,
    '# HTTP/2 over TLS, and mTLS with the client cert of uid 4242 (shard 42 → rz04)',
    `curl -s --http2 --cacert ${f.ca} ${https}/`,
    `curl -s --cacert ${f.ca} --cert ${f.clientCert} --key ${f.clientKey} ${https}/whoami`,
    '# the admin listener: the LVS health probe, and the Prometheus metrics of the requests above',
    `curl -s ${adminUrl}/healthz`,
    `curl -s ${adminUrl}/metrics | grep -E '^zonegate_(http_requests|connections)_total'`,
    '# where would uid 1234 go, without sending anything',
    `zonegate route --map ${mapFile} --idc hz-1 --uid 1234`,
  ].join('\n');
  return {
    gateway,
    upstreams,
    dir,
    adminUrl,
    tryThis,
    async close() {
      await closeOperations();
      await gateway.close();
      await upstreams.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
