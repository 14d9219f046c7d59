import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { listenOptions } from '../../src/listeners/listener.js';
import { freePort } from '../helpers/child-processes.js';

/** One new connection: the id of the worker that accepted it. */
async function whoServes(port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  await once(socket, 'end');
  socket.destroy();
  return text.trim();
}

/** Sockets in LISTEN state on 127.0.0.1:port, from the kernel's own table. */
function listeningSockets(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '0A').length;
}

describe('cluster workers and reusePort', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) {
      try {
        if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
      } catch {
        // ESRCH: already gone.
      }
    }
  });

  async function startCluster(port: number): Promise<number[]> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/listeners/fixtures/reuse-port-cluster.ts'],
      {
        env: { ...process.env, ZG_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'inherit'],
        // A process group of its own: the workers are stopped with the primary.
        detached: true,
      },
    );
    children.push(child);
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    return (JSON.parse(line) as { ports: number[] }).ports;
  }

  async function servedBy(port: number): Promise<Set<string>> {
    const seen = new Set<string>();
    // New connections until both workers answered: the kernel hashes each 4-tuple, so the
    // chance that 200 connections all land on one of two sockets is 2^-199.
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(await whoServes(port));
    return seen;
  }

  it(
    'each worker binds its own SO_REUSEPORT socket and both serve connections',
    { skip: process.platform !== 'linux' && 'SO_REUSEPORT balancing is checked on Linux' },
    async () => {
      const port = await freePort();
      assert.deepEqual(await startCluster(port), [port, port]);
      assert.deepEqual([...(await servedBy(port))].sort(), ['1', '2']);
      // Two listening sockets in the kernel (one per worker), not the primary's one shared socket.
      assert.equal(listeningSockets(port), 2);
    },
  );

  it('port 0 keeps the shared socket: both workers serve the one port the primary bound', async () => {
    const ports = await startCluster(0);
    assert.equal(ports.length, 2);
    assert.equal(ports[0], ports[1], `workers bound ${ports.join(', ')}`);
    assert.deepEqual([...(await servedBy(ports[0]!))].sort(), ['1', '2']);
    if (process.platform === 'linux') assert.equal(listeningSockets(ports[0]!), 1);
  });

  it('falls back to the plain listen where reusePort is unavailable', () => {
    const reuse = { port: 8080, host: '0.0.0.0', exclusive: true, reusePort: true };
    const plain = { port: 8080, host: '0.0.0.0' };
    assert.deepEqual(listenOptions(8080, '0.0.0.0', true, 'linux', '22.19.0'), reuse);
    assert.deepEqual(listenOptions(8080, '0.0.0.0', false, 'linux', '22.19.0'), plain, 'single process');
    assert.deepEqual(listenOptions(8080, '0.0.0.0', true, 'win32', '22.19.0'), plain, 'no SO_REUSEPORT');
    assert.deepEqual(listenOptions(8080, '0.0.0.0', true, 'darwin', '22.19.0'), plain, 'no balancing');
    assert.deepEqual(listenOptions(8080, '0.0.0.0', true, 'linux', '22.11.0'), plain, 'Node before 22.12');
    assert.deepEqual(listenOptions(8080, '0.0.0.0', true, 'linux', '23.1.0'), reuse);
  });
});
