/** An in-process gateway over demo upstreams and the example map, on ephemeral ports. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, type GatewayConfig } from '../../src/core/config.js';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { EventBus } from '../../src/core/events.js';
import { exampleDoc, type MutableDoc } from '../helpers/maps.js';

export const COOKIE_SECRET = 'test-secret-0123456789abcdef';

export interface Harness {
  readonly gw: Gateway;
  readonly ups: DemoUpstreams;
  readonly mapFile: string;
  /** Base URL of the listener named `web` (or the first one). */
  readonly url: string;
  readonly doc: MutableDoc;
  /** Rewrite the map file (version bumped) and wait until the gateway routes by it. */
  applyMap(change: (doc: MutableDoc) => void): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly idc?: string;
  /** Raw config overrides (merged shallowly over the defaults below, before validation). */
  readonly config?: Record<string, unknown>;
  readonly change?: (doc: MutableDoc) => void;
  /** The gateway's event bus (subscribe to it to see what it publishes). */
  readonly events?: EventBus;
  /** Reuse another harness's upstreams (several gateways, one set of zones). */
  readonly upstreams?: DemoUpstreams;
}

/** A fresh event bus with the test's subscribers on it. */
export function busOf(setup: (bus: EventBus) => unknown): EventBus {
  const bus = new EventBus();
  setup(bus);
  return bus;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const ups = o.upstreams ?? (await startDemoUpstreams(exampleDoc()));
  const doc = structuredClone(ups.doc) as MutableDoc;
  // The example's peer gateways sit on 127.0.0.1, which would make every test client a
  // trusted peer; park them on TEST-NET-1 unless a test sets real ones.
  for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
  o.change?.(doc);
  const dir = mkdtempSync(join(tmpdir(), 'zg-http-'));
  const mapFile = join(dir, 'map.json');
  writeFileSync(mapFile, JSON.stringify(doc));
  const config: GatewayConfig = validateConfig({
    idc: o.idc ?? 'hz-1',
    listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' }],
    zonemap: { file: mapFile },
    identity: { cookie: { keys: [{ id: 'k1', secret: COOKIE_SECRET }], secure: false } },
    upstream: { healthCheck: { enabled: false } },
    timeouts: { shutdownGraceMs: 200 },
    ...o.config,
  });
  const gw = await startGateway({ config, ...(o.events === undefined ? {} : { events: o.events }) });
  const first = gw.urls()[0];
  if (first === undefined) throw new Error('harness gateway has no HTTP listener');
  return {
    gw,
    ups,
    mapFile,
    url: first.url,
    doc,
    async applyMap(change) {
      const next = structuredClone(doc);
      change(next);
      next.version = gw.holder.current.version + 1;
      const seen = new Promise<void>((resolve) => gw.holder.once('change', () => resolve()));
      writeFileSync(mapFile, JSON.stringify(next));
      await seen;
    },
    async close() {
      await gw.close();
      if (o.upstreams === undefined) await ups.close();
    },
  };
}
