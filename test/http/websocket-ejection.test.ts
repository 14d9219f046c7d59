/**
 * Passive ejection by failed WebSocket upgrades, as an SRE sees it: a real gateway (as
 * `zonegate start` runs it, with its admin /metrics and its log) in front of a zone whose
 * endpoints are a live WebSocket server and one that refuses (or resets) every upgrade. After
 * `upstream.ejection.consecutiveFailures` failed upgrades in a row the bad endpoint is ejected:
 * counted in `zonegate_upstream_ejections_total`, logged as `upstream ejected` with
 * `protocol: ws`, and the next upgrades all go to the live endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { createMetrics } from '../../src/admin/metrics.js';
import { validateConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import { runGatewayProcess, type GatewayProcess } from '../../src/gateway/process.js';
import { metricSum } from '../helpers/gateway-process.js';
import { jsonLineSink } from '../helpers/log-lines.js';
import { exampleDoc } from '../helpers/maps.js';
import { waitFor } from '../helpers/wait.js';

const FAILURES = 2;
const EJECT_MS = 60_000;

interface Upgrade {
  /** 101 when the tunnel opened, else the status the gateway answered. */
  readonly status: number;
  /** `x-ldc-reason` of a refused upgrade. */
  readonly reason: string | undefined;
  /** The zone the live WebSocket server says it served (its first message). */
  readonly zone: string | undefined;
}

let dir = '';
let gw: Exclude<GatewayProcess, { role: 'primary' }>;
let wsUrl = '';
let live: Server;
let liveAddr = '';
let resetter: NetServer;
let resetAddr = '';
/** Nothing listens on port 1 (privileged, unused): every connect is refused at once. */
const refusedAddr = '127.0.0.1:1';
const logLines: Record<string, unknown>[] = [];

function upgrade(uid: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}/chat`, { headers: { 'x-ldc-uid': uid } });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({
        status: res.statusCode ?? 0,
        reason: res.headers['x-ldc-reason'] as string,
        zone: undefined,
      });
      ws.terminate();
    });
    ws.once('message', (data: Buffer) => {
      const hello = JSON.parse(data.toString()) as { zone: string };
      resolve({ status: 101, reason: undefined, zone: hello.zone });
      ws.close();
    });
    ws.once('error', reject);
  });
}

async function metrics(): Promise<string> {
  const r = await fetch(`${gw.admin!.url}/metrics`);
  return r.text();
}

function ejectionLines(upstream: string): Record<string, unknown>[] {
  return logLines.filter((l) => l['msg'] === 'upstream ejected' && l['upstream'] === upstream);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zg-ws-eject-'));
  // The live endpoint: a WebSocket server that says which zone it was reached for.
  live = createHttpServer();
  new WebSocketServer({ server: live }).on('connection', (ws, req) => {
    ws.send(JSON.stringify({ zone: req.headers['x-ldc-zone'] }));
  });
  await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
  liveAddr = `127.0.0.1:${(live.address() as AddressInfo).port}`;
  // Accepts, reads the upgrade request, then resets the connection.
  resetter = createNetServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
  resetAddr = `127.0.0.1:${(resetter.address() as AddressInfo).port}`;

  const doc = exampleDoc();
  // The example's peer gateways sit on 127.0.0.1: park them on TEST-NET-1 (no trusted peer).
  for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
  // uid 1234 → rz03: refused connects. uid 15 → rz01: reset upgrades.
  doc.zones.rz03!.upstreams!.http = { blue: [refusedAddr, liveAddr], green: [refusedAddr, liveAddr] };
  doc.zones.rz01!.upstreams!.http = { blue: [resetAddr, liveAddr], green: [resetAddr, liveAddr] };
  await writeFile(join(dir, 'map.json'), JSON.stringify(doc));
  const config = validateConfig(
    {
      idc: 'hz-1',
      listeners: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }],
      zonemap: { file: 'map.json' },
      upstream: {
        ejection: { consecutiveFailures: FAILURES, ejectMs: EJECT_MS },
        healthCheck: { enabled: false },
      },
      admin: { host: '127.0.0.1', port: 0 },
      drain: { delayMs: 0, timeoutMs: 2000 },
      timeouts: { shutdownGraceMs: 200 },
    },
    { baseDir: dir },
  );
  const p = await runGatewayProcess({
    config,
    workers: 1,
    handleSignals: false,
    logger: createLogger({ level: 'info' }, jsonLineSink(logLines)),
    metrics: createMetrics({ defaultMetrics: false }),
  });
  if (p.role === 'primary') throw new Error('one process was asked for');
  gw = p;
  wsUrl = gw.gateway
    .urls()
    .find((u) => u.name === 'web')!
    .url.replace('http', 'ws');
});

after(async () => {
  await gw?.close();
  live?.closeAllConnections();
  await new Promise((r) => live?.close(r));
  await new Promise((r) => resetter?.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('WebSocket upgrades an upstream keeps failing eject it, visibly', () => {
  for (const c of [
    { what: 'refuses the connect', uid: '1234', zone: 'rz03', bad: () => refusedAddr, code: 'ECONNREFUSED' },
    { what: 'resets the upgrade', uid: '15', zone: 'rz01', bad: () => resetAddr, code: 'ECONNRESET' },
  ]) {
    it(`an upstream that ${c.what}: ejected after ${FAILURES} failures, counted, logged, then skipped`, async () => {
      const bad = c.bad();
      const ejections = async (): Promise<number> =>
        metricSum(await metrics(), 'zonegate_upstream_ejections_total', { zone: c.zone, upstream: bad });
      // Round robin over [bad, live]: upgrades until the bad endpoint has failed FAILURES times.
      let failures = 0;
      for (let i = 0; i < 2 * FAILURES + 2 && failures < FAILURES; i++) {
        const u = await upgrade(c.uid);
        if (u.status === 101) {
          assert.equal(u.zone, c.zone);
          continue;
        }
        // The existing answer to a failed upgrade, unchanged.
        assert.equal(u.status, 502);
        assert.equal(u.reason, 'ZG_ERR_UPSTREAM_FAILED');
        failures++;
        if (failures < FAILURES) {
          assert.equal(await ejections(), 0, 'not ejected before the threshold');
          assert.equal(ejectionLines(bad).length, 0);
        }
      }
      assert.equal(failures, FAILURES, 'the bad endpoint was tried');

      // The ejection is in the log, as a WebSocket one, with the failure that caused it ...
      await waitFor('the "upstream ejected" log line', () => ejectionLines(bad).length > 0);
      const [line] = ejectionLines(bad);
      assert.equal(line!['level'], 40, 'logged as a warning');
      assert.equal(line!['protocol'], 'ws');
      assert.equal(line!['zone'], c.zone);
      assert.equal(line!['reason'], c.code);
      assert.ok(
        (line!['ejectMs'] as number) > EJECT_MS - 1000 && (line!['ejectMs'] as number) <= EJECT_MS,
        `ejectMs ${String(line!['ejectMs'])}`,
      );
      // ... and counted once in /metrics.
      assert.equal(await ejections(), 1);

      // Ejected for ejectMs: every next upgrade opens a tunnel to the live endpoint.
      for (let i = 0; i < 4; i++) {
        const u = await upgrade(c.uid);
        assert.deepEqual({ status: u.status, zone: u.zone }, { status: 101, zone: c.zone });
      }
      assert.equal(await ejections(), 1, 'ejected once');
      assert.equal(ejectionLines(bad).length, 1, 'logged once');
    });
  }
});
