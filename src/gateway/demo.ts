/**
 * `zonegate demo`: the example three-site five-center map, one in-process upstream per zone
 * and colour, one in-process MQTT broker per RZone, HTTP, HTTPS and MQTT listeners for IDC
 * hz-1 (dev certs made on the fly), and no Redis: the map is a file that the drill commands
 * write with `--map` and the gateway follows. Everything lives in a temp folder that is
 * removed on close.
 *
 * The gateway runs the way `zonegate start` runs it (runGatewayProcess: metrics, access log,
 * admin listener), so /metrics and /healthz show what the curl lines do. The admin listener is
 * on loopback whatever `host` is: the demo has no token, and /metrics is nobody else's business.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { runGatewayProcess } from './process.js';
import { initCerts } from '../certs/index.js';
import { validateConfig } from '../core/config.js';
import { loadZoneMapFile } from '../zonemap/index.js';
import { FileZoneMapStore, writeZoneMap } from '../zonemap/stores/index.js';
import { DEMO_PING_TOPIC, DEMO_PONG_TOPIC, startDemoBrokers, type DemoBrokers } from './demo-brokers.js';
import { startDemoUpstreams, type DemoUpstreams } from './demo-upstreams.js';
import type { Gateway } from './gateway.js';

export const EXAMPLE_MAP = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

export type DemoPort = 'http' | 'https' | 'mqtt' | 'admin';

export interface DemoOptions {
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** The MQTT listener's port (`zonegate demo` uses 1883; 0 picks one). */
  readonly mqttPort: number;
  /** The admin listener's port on 127.0.0.1 (`zonegate demo` uses 9901, the config default; 0 picks one). */
  readonly adminPort: number;
  /**
   * Ports that are defaults rather than asked for: when one is taken (a second demo, a local
   * broker on 1883) the demo takes a free one instead and says so.
   */
  readonly fallback?: ReadonlySet<DemoPort>;
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
  readonly brokers: DemoBrokers;
  readonly dir: string;
  /** The zone map file the gateway follows; the drill commands write it with `--map`. */
  readonly mapFile: string;
  /** `http://127.0.0.1:PORT` of the admin listener (/metrics, /healthz, /readyz, /zonemap). */
  readonly adminUrl: string;
  /** `http://HOST:PORT` of the plain HTTP listener. */
  readonly httpUrl: string;
  /** Where the MQTT listener is bound. */
  readonly mqtt: { readonly host: string; readonly port: number };
  /** What runs where, and which default ports were taken. */
  readonly header: string;
  /** The header, then the commands to try (curl, MQTT, a drill), one per line, with comments. */
  readonly tryThis: string;
  close(): Promise<void>;
}

/** Whether `port` can be bound on `host` right now (a probe: the demo binds it just after). */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** The port to bind: the one asked for, or 0 when it is a taken default. */
async function choosePort(
  name: DemoPort,
  host: string,
  port: number,
  fallback: ReadonlySet<DemoPort>,
  taken: Map<DemoPort, number>,
): Promise<number> {
  if (port === 0 || !fallback.has(name) || (await canBind(host, port))) return port;
  taken.set(name, port);
  return 0;
}

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const fallback = o.fallback ?? new Set<DemoPort>();
  const taken = new Map<DemoPort, number>();
  const ports = {
    http: await choosePort('http', o.host, o.httpPort, fallback, taken),
    https: await choosePort('https', o.host, o.httpsPort, fallback, taken),
    mqtt: await choosePort('mqtt', o.host, o.mqttPort, fallback, taken),
    admin: await choosePort('admin', '127.0.0.1', o.adminPort, fallback, taken),
  };
  const dir = await mkdtemp(join(tmpdir(), 'zonegate-demo-'));
  // What a start that fails half way must undo, newest first.
  const undo: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const unwind = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  let upstreams: DemoUpstreams;
  let brokers: DemoBrokers;
  try {
    const map = await loadZoneMapFile(EXAMPLE_MAP);
    upstreams = await startDemoUpstreams(map.doc);
    undo.push(() => upstreams.close());
    brokers = await startDemoBrokers(upstreams.doc);
    undo.push(() => brokers.close());
  } catch (err) {
    await unwind();
    throw err;
  }
  const mapFile = join(dir, 'zonemap.json');
  let gateway: Gateway;
  let closeProcess: () => Promise<void>;
  let adminUrl: string;
  let certs: Awaited<ReturnType<typeof initCerts>>;
  try {
    // Through the file store, so the first version is in history and `map rollback` can reach it.
    await writeZoneMap(new FileZoneMapStore(mapFile), brokers.doc, null, {
      who: 'zonegate demo',
      reason: "the example map, on this demo's ports",
      action: 'demo start',
      summary: 'first map',
    });
    certs = await initCerts(join(dir, 'certs'), { uid: '4242', p12Password: 'zonegate' });
    const config = validateConfig({
      idc: 'hz-1',
      crossIdc: 'direct',
      listeners: [
        { name: 'http', protocol: 'http', port: ports.http, host: o.host },
        { name: 'mqtt', protocol: 'mqtt', port: ports.mqtt, host: o.host },
        {
          name: 'https',
          protocol: 'https',
          port: ports.https,
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
      admin: { host: '127.0.0.1', port: ports.admin },
      // Nobody balances onto a demo: Ctrl-C should not wait for an LVS probe to notice.
      drain: { delayMs: 0, timeoutMs: 5000 },
    });
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
    closeProcess = () => p.close();
    adminUrl = p.admin?.url ?? '';
  } catch (err) {
    await unwind();
    throw err;
  }
  const http = gateway.urls().find((u) => u.name === 'http')!.url;
  const https = gateway.urls().find((u) => u.name === 'https')!.url;
  const bound = gateway.address('mqtt');
  const mqtt = {
    host: bound.address === '0.0.0.0' || bound.address === '::' ? '127.0.0.1' : bound.address,
    port: bound.port,
  };
  const jar = join(dir, 'cookies.txt');
  const f = certs.files;
  const was = (name: DemoPort): string => {
    const p = taken.get(name);
    return p === undefined ? '' : `   (${p} is taken: a free port instead)`;
  };
  const header = [
    `Zonegate demo: IDC hz-1 of the three-site five-center map (${EXAMPLE_MAP})`,
    `  HTTP  ${http}${was('http')}`,
    `  HTTPS ${https}   (CA: ${f.ca})${was('https')}`,
    `  MQTT  mqtt://${mqtt.host}:${mqtt.port}   (MQTT 3.1.1; one in-process broker per zone)${was('mqtt')}`,
    `  admin ${adminUrl}   (loopback only)${was('admin')}`,
    `  map   ${mapFile}   (the zone map file this gateway follows; no Redis)`,
  ].join('\n');
  const m = `-h ${mqtt.host} -p ${mqtt.port}`;
  const tryThis = [
    header,
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
    `npx zonegate route --map ${mapFile} --idc hz-1 --uid 1234`,
    '',
    `# MQTT: the client id names the user (1234-sub → uid 1234 → rz03). Subscribe, and leave it running:`,
    `mosquitto_sub ${m} -i 1234-sub -t ${DEMO_PONG_TOPIC} -v`,
    `# in another terminal, publish as the same user: the zone's broker answers on '${DEMO_PONG_TOPIC}' with its name`,
    `mosquitto_pub ${m} -i 1234-pub -t ${DEMO_PING_TOPIC} -m hello`,
    '# no mosquitto clients? the same with MQTT.js, a dev dependency of this repository:',
    `npx mqtt sub ${m} -i 1234-sub -t ${DEMO_PONG_TOPIC} -v`,
    `npx mqtt pub ${m} -i 1234-pub -t ${DEMO_PING_TOPIC} -m hello`,
    '',
    "# a drill on this demo's own map file: take rz03 down (its users move to its standby rz01)",
    `npx zonegate zone down rz03 --map ${mapFile} --reason 'demo drill'`,
    '#   you will see: the curl line for uid 1234 answer from rz01; the subscriber stay connected',
    `#   (no new CONNACK) and the next ping answered 'rz01: hello'`,
    `npx zonegate map history --map ${mapFile}`,
    '# bring it back (or undo the last write with: npx zonegate map rollback --map FILE)',
    `npx zonegate zone up rz03 --map ${mapFile} --reason 'drill over'`,
    '# or let the demo run this drill by itself and narrate it: npm start -- --drill',
  ].join('\n');
  return {
    gateway,
    upstreams,
    brokers,
    dir,
    mapFile,
    adminUrl,
    httpUrl: http,
    mqtt,
    header,
    tryThis,
    async close() {
      // The gateway, its admin listener and signal handlers: the process's own teardown.
      await closeProcess();
      await brokers.close();
      await upstreams.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
