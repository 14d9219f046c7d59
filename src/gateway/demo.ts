/**
 * `zonegate demo`: the example three-site five-center map, one in-process upstream per zone
 * and colour, an HTTP and an HTTPS listener for IDC hz-1 (dev certs made on the fly), and
 * no Redis. Everything lives in a temp folder that is removed on close.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCerts } from '../certs/index.js';
import { validateConfig } from '../core/config.js';
import { loadZoneMapFile } from '../zonemap/index.js';
import { startDemoUpstreams, type DemoUpstreams } from './demo-upstreams.js';
import { startGateway, type Gateway, type GatewayLog } from './gateway.js';

export const EXAMPLE_MAP = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

export interface DemoOptions {
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly log?: GatewayLog;
}

export interface Demo {
  readonly gateway: Gateway;
  readonly upstreams: DemoUpstreams;
  readonly dir: string;
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
  });
  let gateway: Gateway;
  try {
    gateway = await startGateway({ config, ...(o.log === undefined ? {} : { log: o.log }) });
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
    '# where would uid 1234 go, without sending anything',
    `zonegate route --map ${mapFile} --idc hz-1 --uid 1234`,
  ].join('\n');
  return {
    gateway,
    upstreams,
    dir,
    tryThis,
    async close() {
      await gateway.close();
      await upstreams.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
