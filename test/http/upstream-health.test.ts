import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Endpoint, EndpointGroup, HealthChecker, type EndpointOptions } from '../../src/upstream/index.js';

const opts: EndpointOptions = {
  connections: 4,
  pipelining: 1,
  connectTimeoutMs: 500,
  responseTimeoutMs: 500,
  bodyTimeoutMs: 500,
  idleTimeoutMs: 1000,
  maxHeaderBytes: 16384,
  consecutiveFailures: 2,
  ejectMs: 60_000,
};

describe('upstream endpoints: round robin, passive ejection, active health checks', () => {
  let sick = false;
  let server: Server;
  let a: Endpoint;
  let b: Endpoint;
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' && sick ? 503 : 200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    a = new Endpoint(`127.0.0.1:${port}`, opts);
    b = new Endpoint(`[::1]:${port + 1}`, opts);
  });
  after(async () => {
    await a.pool.destroy();
    await b.pool.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('alternates, then skips an endpoint ejected after consecutive failures', () => {
    const g = new EndpointGroup([a, b]);
    const now = 1_000;
    assert.deepEqual([g.pick(null, now), g.pick(null, now), g.pick(null, now)], [a, b, a]);
    b.failed(now);
    assert.equal(b.available(now), true);
    b.failed(now);
    assert.equal(b.available(now), false);
    assert.deepEqual([g.pick(null, now), g.pick(null, now)], [a, a]);
    // On a retry the failed endpoint is excluded even when it is the only available one.
    assert.equal(g.pick(a, now), b);
    assert.equal(b.host, '::1');
    // Ejection ends on its own.
    assert.equal(b.available(now + 60_001), true);
  });

  it('marks an endpoint unhealthy after failed checks and healthy again after good ones', async () => {
    const changes: string[] = [];
    const hc = new HealthChecker({
      config: {
        enabled: true,
        path: '/healthz',
        intervalMs: 1000,
        timeoutMs: 500,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
      endpoints: () => [a],
      onChange: (e, healthy) => changes.push(`${e.address} ${healthy}`),
    });
    sick = true;
    await hc.runOnce();
    assert.equal(a.healthy, true, 'one failed probe is not enough');
    await hc.runOnce();
    assert.equal(a.healthy, false);
    const g = new EndpointGroup([a, b]);
    b.ejectedUntil = 0;
    assert.equal(g.pick(null, Date.now()), b);
    sick = false;
    await hc.runOnce();
    await hc.runOnce();
    assert.equal(a.healthy, true);
    assert.deepEqual(changes, [`${a.address} false`, `${a.address} true`]);
  });
});
