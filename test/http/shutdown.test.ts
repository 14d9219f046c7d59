import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
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

  it('answers a request a keep-alive client sends as the drain begins, with connection: close (fast path and Node path)', async () => {
    const k = await startHarness({ config: { timeouts: { shutdownGraceMs: 3000 } } });
    try {
      const { port } = new URL(k.url);
      const get = 'GET /again HTTP/1.1\r\nhost: zg\r\nx-ldc-uid: 1234\r\n\r\n';
      // A request with a body is served by Node's HTTP server, not the fast path.
      const post = 'POST /again HTTP/1.1\r\nhost: zg\r\nx-ldc-uid: 1234\r\ncontent-length: 2\r\n\r\nhi';
      const first = await Promise.all([keptAlive(Number(port), get), keptAlive(Number(port), post)]);
      // The drain begins with both connections between requests; each client, not knowing,
      // sends its next request right away. A reset here is a request lost to the drain.
      const closing = k.gw.http.close(3000);
      const answers = first.map(({ socket, request }) => {
        const text = readToClose(socket);
        socket.write(request);
        return text;
      });
      for (const text of await Promise.all(answers)) {
        assert.match(text, /^HTTP\/1\.1 200 /, 'answered, not reset');
        assert.match(text, /\r\nconnection: close\r\n/i, 'and told to close');
      }
      await closing;
    } finally {
      await k.close();
    }
  });
});

/** A connection that has had one answer (read to its end by its length) and stays open. */
async function keptAlive(port: number, request: string): Promise<{ socket: Socket; request: string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(request);
  // Read by hand: leaving a for-await loop over a socket would destroy it.
  const got = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text);
      if (end >= 0 && length !== null && text.length >= end + 4 + Number(length[1])) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(got, /\r\nconnection: close\r\n/i, 'kept alive before the drain');
  return { socket, request };
}

/** Everything the server sends until it closes; a reset rejects. */
function readToClose(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () => resolve(got));
  });
}
