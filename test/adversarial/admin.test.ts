/**
 * The admin listener as an attacker who can reach it sees it: writes without credentials,
 * reading user ids out of /zonemap, an operator binding it to every interface without auth,
 * and flooding /metrics with label values through the public listener.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startAdminServer,
  type AdminServer,
  type AdminTarget,
  type ZoneMapView,
} from '../../src/admin/admin-server.js';
import { validateConfig } from '../../src/core/config.js';
import type { DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { exampleDoc } from '../helpers/maps.js';
import { demoUpstreams, exchange, httpGet, rawConnect, startEdge, statusOf } from './edge-fixture.js';

const GREEN = ['770001', '770002', '770003'];

class Target implements AdminTarget {
  drains = 0;
  reloads = 0;
  readonly map: ZoneMapView;
  constructor() {
    const doc = exampleDoc();
    const zone = Object.values(doc.zones)[0]!;
    zone.release = { ...zone.release, greenUids: GREEN };
    this.map = { version: doc.version, doc };
  }
  getMap(): ZoneMapView {
    return this.map;
  }
  isDraining(): boolean {
    return this.drains > 0;
  }
  startDrain(): void {
    this.drains++;
  }
  reload(): Promise<{ reloaded: string[] }> {
    this.reloads++;
    return Promise.resolve({ reloaded: [] });
  }
}

describe('adversarial: the admin listener', () => {
  let admin: AdminServer;
  const target = new Target();
  const dir = mkdtempSync(join(tmpdir(), 'zg-adv-admin-'));
  before(async () => {
    writeFileSync(join(dir, 'token'), 'the-real-token\n');
    admin = await startAdminServer({ host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token'), target });
  });
  after(async () => {
    await admin.close();
  });

  it('refuses writes without the token, with a wrong one, or by the wrong method (passes before too)', async () => {
    const port = Number(new URL(admin.url).port);
    for (const req of [
      'POST /drain HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n',
      'POST /drain HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer the-real-toke\r\nContent-Length: 0\r\n\r\n',
      'POST /reload HTTP/1.1\r\nHost: a\r\nAuthorization: Basic the-real-token\r\nContent-Length: 0\r\n\r\n',
      'POST /reload HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 127.0.0.1\r\nContent-Length: 0\r\n\r\n',
      'GET /drain HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer the-real-token\r\n\r\n',
    ]) {
      const s = await rawConnect(port);
      const a = await exchange(s, req, (t) => t.includes('\r\n\r\n') && t.includes('}'));
      s.destroy();
      assert.ok([401, 405].includes(statusOf(a.text)), a.text);
    }
    assert.equal(target.drains, 0);
    assert.equal(target.reloads, 0);
    const ok = await fetch(`${admin.url}/healthz`);
    assert.equal(ok.status, 200);
  });

  it('shows /zonemap with greenUids reduced to their count', async () => {
    const res = await fetch(`${admin.url}/zonemap`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const uid of GREEN) assert.ok(!text.includes(uid), `uid ${uid} exposed by /zonemap`);
    const body = JSON.parse(text) as {
      map: { zones: Record<string, { release?: Record<string, unknown> }> };
    };
    const counts = Object.values(body.map.zones).map((z) => z.release?.greenUidCount);
    assert.ok(counts.includes(GREEN.length), JSON.stringify(counts));
  });

  it('refuses a config whose admin listener faces the network without auth, unless allowed explicitly', () => {
    const mapFile = join(dir, 'map.json');
    writeFileSync(mapFile, JSON.stringify(exampleDoc()));
    const base = {
      idc: 'hz-1',
      listeners: [{ name: 'web', protocol: 'http', port: 0 }],
      zonemap: { file: mapFile },
    };
    // What `zonegate start` turns into exit 2 with this message on stderr (test/http/cli.test.ts
    // covers that mapping; a CLI process per case would cost seconds of test time).
    assert.throws(() => validateConfig({ ...base, admin: { host: '0.0.0.0', port: 0 } }), {
      code: 'ZG_ERR_CONFIG_INVALID',
      message: /admin\.host: 0\.0\.0\.0 is reachable from other hosts .*no tokenFile/,
    });
    for (const admin of [
      { host: '0.0.0.0', tokenFile: join(dir, 'token') },
      { host: '::', allowUnauthenticatedRemote: true },
      { host: '10.1.2.3', tls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem', requestCert: true } },
      { host: '127.0.0.2' },
      { host: '::1' },
      { host: 'localhost' },
    ]) {
      assert.doesNotThrow(() => validateConfig({ ...base, admin }), JSON.stringify(admin));
    }
    assert.throws(() => validateConfig({ ...base, admin: { host: 'admin.internal' } }), /admin\.host/);
  });
});

describe('adversarial: metrics cardinality under hostile input (passes before too)', () => {
  let ups: DemoUpstreams;
  before(async () => {
    ups = await demoUpstreams();
  });
  after(async () => {
    await ups.close();
  });

  it('keeps every label value bounded whatever uids, paths, hosts and addresses clients send', async () => {
    const edge = await startEdge(ups, {
      listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' }],
    });
    try {
      const s = await rawConnect(edge.port('web'));
      let pipelined = '';
      for (let i = 0; i < 200; i++) {
        pipelined += httpGet(`/p${i}/x?q=${i}`, {
          'x-ldc-uid': String(900000 + i),
          'x-forwarded-for': `6.6.${i}.6`,
          'x-ldc-zone': `evil${i}`,
          cookie: `ldc=forged${i}`,
        }).replace('Host: edge.test', `Host: h${i}.example`);
      }
      const a = await exchange(s, pipelined, (t) => t.split('HTTP/1.1 ').length - 1 === 200);
      s.destroy();
      assert.equal(a.text.split('HTTP/1.1 ').length - 1, 200);
      const text = await edge.metricsText();
      const series = text.split('\n').filter((l) => l.startsWith('zonegate_http_requests_total{'));
      assert.ok(series.length > 0 && series.length <= 20, `${series.length} series`);
      for (const leak of ['900150', 'p150', '6.6.150.6', 'evil150', 'forged150', 'h150.example']) {
        assert.ok(!text.includes(leak), `${leak} became a label value`);
      }
    } finally {
      await edge.close();
    }
  });
});
