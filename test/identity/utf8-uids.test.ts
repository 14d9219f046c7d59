/**
 * Non-ASCII uids end to end, over real sockets and real outside clients: the uid header (curl),
 * the signed cookie (curl), the client certificate (curl over mTLS, CN generated now) and MQTT
 * (mosquitto_pub's user name) all land in the zone `zonegate route --uid` names, and the
 * upstream gets a uid header it can decode back to the exact uid.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { issueCert } from '../../src/certs/index.js';
import { main } from '../../src/cli/main.js';
import { validateConfig } from '../../src/core/config.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { CookieKeyring, decodeCookieUnverified } from '../../src/identity/index.js';
import { compileZoneMap } from '../../src/zonemap/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { exampleDoc } from '../helpers/maps.js';
import { freePort, startMosquittos, type Mosquitto } from '../helpers/mosquitto.js';
import { connectClient, endClient } from '../mqtt/fixture.js';
import { shardOf } from '../../src/router/index.js';

const run = promisify(execFile);
const SECRET = 'utf8-uid-secret-0123456789';
const UIDS = ['用户甲', 'José'] as const;

interface Answer {
  readonly zone: string;
  readonly uid: string | null;
}

/** `zonegate route` in-process: the zone the CLI says this uid belongs to. */
async function routeZone(mapFile: string, uid: string): Promise<string> {
  let out = '';
  const code = await main(['route', '--map', mapFile, '--idc', 'hz-1', '--uid', uid], {
    out: (t) => (out += t),
    err: () => undefined,
  });
  assert.equal(code, 0);
  return (JSON.parse(out) as { zone: string }).zone;
}

async function curl(args: readonly string[]): Promise<{ status: number; body: string; headers: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'zg-curl-'));
  const headersFile = join(dir, 'h');
  const { stdout } = await run('curl', ['-sS', '-D', headersFile, '-w', '\n%{http_code}', ...args], {
    timeout: 10_000,
  });
  const cut = stdout.lastIndexOf('\n');
  const { readFileSync } = await import('node:fs');
  return {
    status: Number(stdout.slice(cut + 1)),
    body: stdout.slice(0, cut),
    headers: readFileSync(headersFile, 'latin1'),
  };
}

/** One raw HTTP/1.1 request with the uid header's bytes as given; the status line and body. */
function rawRequest(port: number, uidBytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(
        Buffer.concat([
          Buffer.from('GET /orders HTTP/1.1\r\nHost: zonegate.test\r\nConnection: close\r\nx-ldc-uid: '),
          uidBytes,
          Buffer.from('\r\n\r\n'),
        ]),
      );
    });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
}

describe('UTF-8 uids: every path lands where zonegate route says', () => {
  let ups: DemoUpstreams;
  let gw: Gateway;
  /** A second gateway whose MQTT uid comes from the client certificate (mqtts, mTLS). */
  let gwCert: Gateway;
  let brokers: Mosquitto[] = [];
  let certs: TestCerts;
  let mapFile: string;
  let dir: string;
  const zoneOf = new Map<string, string>();
  const brokerOf = new Map<string, Mosquitto>();
  const clients: MqttClient[] = [];

  before(async () => {
    certs = await testCerts();
    ups = await startDemoUpstreams(exampleDoc());
    const doc = structuredClone(ups.doc) as ReturnType<typeof exampleDoc>;
    for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
    // One mosquitto per zone these uids live in; every other zone's broker is a dead port.
    const compiled = compileZoneMap(doc);
    const homes = [
      ...new Set(UIDS.map((u) => compiled.zones[compiled.shardOwner[shardOf(u, compiled.shards)]!]!.name)),
    ];
    brokers = await startMosquittos(homes.length);
    const dead = `127.0.0.1:${await freePort()}`;
    for (const [name, zone] of Object.entries(doc.zones)) {
      const i = homes.indexOf(name);
      zone.upstreams = { ...zone.upstreams, mqtt: [i === -1 ? dead : brokers[i]!.address] };
      if (i !== -1) brokerOf.set(name, brokers[i]!);
    }
    dir = mkdtempSync(join(tmpdir(), 'zg-utf8-'));
    mapFile = join(dir, 'map.json');
    writeFileSync(mapFile, JSON.stringify(doc));
    for (const uid of UIDS) zoneOf.set(uid, await routeZone(mapFile, uid));
    const config = validateConfig({
      idc: 'hz-1',
      listeners: [
        { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
        {
          name: 'mtls',
          protocol: 'https',
          port: 0,
          host: '127.0.0.1',
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
        },
        { name: 'mq', protocol: 'mqtt', port: 0, host: '127.0.0.1' },
      ],
      zonemap: { file: mapFile },
      identity: {
        // Any visible character: the same with the u flag or without (so the test also runs on older code).
        uidPattern: '^[^\\x00-\\x20\\x7f]{1,64}$',
        cookie: { keys: [{ id: 'k1', secret: SECRET }], secure: false },
        certUid: { from: 'cn' },
        mqtt: { source: 'username', pattern: '^(.+)$' },
      },
      upstream: { healthCheck: { enabled: false } },
      timeouts: { shutdownGraceMs: 200 },
    });
    gw = await startGateway({ config });
    gwCert = await startGateway({
      config: validateConfig({
        idc: 'hz-1',
        listeners: [
          {
            name: 'mqtts',
            protocol: 'mqtts',
            port: 0,
            host: '127.0.0.1',
            tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
          },
        ],
        zonemap: { file: mapFile },
        identity: {
          uidPattern: '^[^\\x00-\\x20\\x7f]{1,64}$',
          certUid: { from: 'cn' },
          mqtt: { source: 'cert', pattern: '^(.+)$' },
        },
        timeouts: { shutdownGraceMs: 200 },
      }),
    });
  });

  /** A client certificate with `uid` as its CN (UTF8String), written to files for curl and mosquitto. */
  const issued = new Map<string, Promise<{ cert: string; key: string }>>();
  function clientCert(uid: string): Promise<{ cert: string; key: string }> {
    let p = issued.get(uid);
    if (p === undefined) {
      p = issueCert(certs.authority, { commonName: uid, usage: 'client' }).then((c) => {
        const base = join(dir, Buffer.from(uid).toString('hex'));
        writeFileSync(`${base}.crt`, c.certPem);
        writeFileSync(`${base}.key`, c.keyPem, { mode: 0o600 });
        return { cert: `${base}.crt`, key: `${base}.key` };
      });
      issued.set(uid, p);
    }
    return p;
  }

  /** Subscribe at the broker of `zone`; resolves with the first message on `topic`. */
  async function watch(zone: string, topic: string): Promise<{ got: Promise<string> }> {
    const broker = brokerOf.get(zone);
    assert.ok(broker !== undefined, `a broker runs for ${zone}`);
    const sub = await connectClient(broker.port, { clientId: `watch-${clients.length}` });
    clients.push(sub);
    const got = new Promise<string>((resolve) => sub.on('message', (_t, m) => resolve(m.toString())));
    await sub.subscribeAsync(topic, { qos: 1 });
    // Wrapped: an async function returning the bare promise would wait for the message itself.
    return { got };
  }

  after(async () => {
    await Promise.all(clients.map(endClient));
    await gw?.close();
    await gwCert?.close();
    await ups?.close();
    await Promise.all(brokers.map((b) => b.stop()));
  });

  const http = (): string => `http://127.0.0.1:${gw.address('web').port}`;

  for (const uid of UIDS) {
    it(`${uid}: the uid header (curl, raw UTF-8) lands in route's zone, and the upstream can decode the uid`, async () => {
      const r = await curl(['-H', `x-ldc-uid: ${uid}`, `${http()}/orders`]);
      assert.equal(r.status, 200, r.body);
      const a = JSON.parse(r.body) as Answer;
      assert.equal(a.zone, zoneOf.get(uid));
      // Forwarded as percent-encoded UTF-8: ASCII on the wire, the exact uid once decoded.
      assert.match(a.uid ?? '', /^[\x21-\x7e]+$/);
      assert.equal(decodeURIComponent(a.uid ?? ''), uid);
      // The same uid percent-encoded (what a peer gateway forwards) is the same user.
      const enc = await curl(['-H', `x-ldc-uid: ${encodeURIComponent(uid)}`, `${http()}/orders`]);
      assert.equal((JSON.parse(enc.body) as Answer).zone, zoneOf.get(uid));
    });

    it(`${uid}: the signed cookie (curl) lands in route's zone instead of failing with 502`, async () => {
      const keyring = await CookieKeyring.create([{ id: 'k1', secret: SECRET }]);
      const cookie = await keyring.sign({ uid, zone: zoneOf.get(uid)! });
      const r = await curl(['-b', `ldc=${cookie}`, `${http()}/orders`]);
      assert.equal(r.status, 200, r.body);
      const a = JSON.parse(r.body) as Answer;
      assert.equal(a.zone, zoneOf.get(uid));
      assert.equal(decodeURIComponent(a.uid ?? ''), uid);
    });

    it(`${uid}: an upstream login naming the uid (percent-encoded) sets a cookie for route's zone`, async () => {
      // The demo upstream echoes ?uid= into its x-ldc-uid answer: send it percent-encoded.
      const r = await curl([`${http()}/login?uid=${encodeURIComponent(encodeURIComponent(uid))}`]);
      assert.equal(r.status, 200, r.body);
      const value = /set-cookie: ldc=([^;\r\n]+)/i.exec(r.headers)?.[1];
      assert.ok(value !== undefined, r.headers);
      const claims = decodeCookieUnverified(value);
      assert.equal(claims?.uid, uid);
      assert.equal(claims?.zone, zoneOf.get(uid));
      const back = await curl(['-b', `ldc=${value}`, `${http()}/orders`]);
      assert.equal((JSON.parse(back.body) as Answer).zone, zoneOf.get(uid));
    });

    it(`${uid}: a client certificate with that CN (curl over mTLS) lands in route's zone`, async () => {
      const { cert, key } = await clientCert(uid);
      const r = await curl([
        '--cacert',
        certs.ca,
        '--cert',
        cert,
        '--key',
        key,
        `https://127.0.0.1:${gw.address('mtls').port}/orders`,
      ]);
      assert.equal(r.status, 200, r.body);
      const a = JSON.parse(r.body) as Answer;
      assert.equal(a.zone, zoneOf.get(uid));
      assert.equal(decodeURIComponent(a.uid ?? ''), uid);
    });

    it(`${uid}: mosquitto_pub with that user name reaches the broker of route's zone`, async () => {
      const topic = `utf8/${Buffer.from(uid).toString('hex')}`;
      const { got } = await watch(zoneOf.get(uid)!, topic);
      await run(
        'mosquitto_pub',
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(gw.address('mq').port),
          '-u',
          uid,
          '-t',
          topic,
          '-m',
          `hello ${uid}`,
          '-q',
          '1',
        ],
        { timeout: 10_000 },
      );
      assert.equal(await got, `hello ${uid}`);
    });

    it(`${uid}: mosquitto_pub over mqtts with a certificate of that CN reaches the broker of route's zone`, async () => {
      const { cert, key } = await clientCert(uid);
      const topic = `utf8cert/${Buffer.from(uid).toString('hex')}`;
      const { got } = await watch(zoneOf.get(uid)!, topic);
      await run(
        'mosquitto_pub',
        [
          ...['-h', '127.0.0.1', '-p', String(gwCert.address('mqtts').port)],
          ...['--cafile', certs.ca, '--cert', cert, '--key', key],
          ...['-i', 'no-uid-here', '-t', topic, '-m', `cert ${uid}`, '-q', '1'],
        ],
        { timeout: 10_000 },
      );
      assert.equal(await got, `cert ${uid}`);
    });
  }

  it('a uid header that is not UTF-8 is refused with 400 ZG_ERR_UID_INVALID, never routed by a guess', async () => {
    const port = gw.address('web').port;
    const answer = await rawRequest(port, Buffer.from([0xe7, 0x94, 0x41]));
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"error":"ZG_ERR_UID_INVALID"/);
    assert.match(answer, /not UTF-8/);
    const badEscape = await rawRequest(port, Buffer.from('12%zz'));
    assert.match(badEscape, /^HTTP\/1\.1 400 /);
    assert.match(badEscape, /ZG_ERR_UID_INVALID/);
  });
});
