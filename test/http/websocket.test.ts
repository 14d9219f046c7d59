import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startHarness, type Harness } from './harness.js';

describe('WebSocket through the gateway', () => {
  let h: Harness;
  let echo: Server;
  before(async () => {
    // An echo server that also reports which zone header and uid it received.
    echo = createServer();
    const wss = new WebSocketServer({ server: echo });
    wss.on('connection', (ws, req) => {
      ws.send(JSON.stringify({ zone: req.headers['x-ldc-zone'], uid: req.headers['x-ldc-uid'] ?? null }));
      ws.on('message', (m, binary) => ws.send(m, { binary }));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const addr = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
    h = await startHarness({
      change: (d) => {
        d.zones.rz03!.upstreams!.http = { blue: [addr], green: [addr] };
      },
    });
  });
  after(async () => {
    await h.close();
    echo.closeAllConnections();
    await new Promise((r) => echo.close(r));
  });

  it('routes the upgrade by uid and echoes text and binary frames', async () => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/chat`, { headers: { 'x-ldc-uid': '1234' } });
    const messages: (string | Buffer)[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('message', (data, binary) => {
        messages.push(binary ? (data as Buffer) : (data as Buffer).toString());
        if (messages.length === 3) resolve();
      });
      ws.on('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('hello through zonegate');
    ws.send(Buffer.from([1, 2, 3]));
    await done;
    ws.close();
    assert.deepEqual(JSON.parse(messages[0] as string), { zone: 'rz03', uid: '1234' });
    assert.equal(messages[1], 'hello through zonegate');
    assert.deepEqual([...(messages[2] as Buffer)], [1, 2, 3]);
  });

  it('answers 503 with the JSON error when the zone has no live upstream zone', async () => {
    await h.applyMap((d) => {
      for (const z of ['rz03', 'rz01', 'rz07']) d.zones[z]!.status = 'down';
    });
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/chat`, { headers: { 'x-ldc-uid': '1234' } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 503);
  });
});
