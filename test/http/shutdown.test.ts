import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startHarness, type Harness } from './harness.js';

describe('graceful close', () => {
  let slow: Server;
  let h: Harness;
  before(async () => {
    slow = createServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('finished'), 400);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const addr = `127.0.0.1:${(slow.address() as AddressInfo).port}`;
    h = await startHarness({
      config: { timeouts: { shutdownGraceMs: 3000 } },
      change: (d) => {
        d.zones.rz03!.upstreams!.http = { blue: [addr], green: [addr] };
      },
    });
  });
  after(async () => {
    slow.closeAllConnections();
    await new Promise((r) => slow.close(r));
    await h.ups.close();
  });

  it('lets an in-flight request finish, then refuses new connections', async () => {
    const arrived = once(slow, 'request');
    const inflight = request(`${h.url}/slow`, { headers: { 'x-ldc-uid': '1234' } });
    // In flight: the upstream has it, and answers 400 ms later.
    await arrived;
    const closing = h.gw.close();
    const res = await inflight;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'finished');
    await closing;
    await assert.rejects(request(`${h.url}/x`), /ECONNREFUSED/);
  });
});
