import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { request } from 'undici';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

function sampleValue(text: string, name: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      out.push(Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

describe('--workers 2', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('serves from both workers, sums their metrics, and drains them all on SIGTERM', async () => {
    const httpPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/admin/fixtures/cluster-gateway.ts'], {
      env: { ...process.env, ZG_HTTP_PORT: String(httpPort), ZG_WORKERS: '2', ZG_MAP_VERSION: '7' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const admin = `http://127.0.0.1:${(JSON.parse(line) as { admin: number }).admin}`;

    const ready = await request(`${admin}/readyz`);
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(await ready.body.json(), { ready: true, zonemapVersion: 7 });

    const scrape = async (): Promise<string> => (await request(`${admin}/metrics`)).body.text();
    const before = sampleValue(await scrape(), 'zonegate_http_requests_total');
    assert.deepEqual(before, []);

    const served = new Map<string, number>();
    const total = 60;
    for (let i = 0; i < total; i++) {
      // A new connection each time, so the cluster's round-robin spreads them over workers.
      const res = await request(`http://127.0.0.1:${httpPort}/`, { headers: { connection: 'close' } });
      await res.body.text();
      assert.equal(res.statusCode, 200);
      const w = String(res.headers['x-worker']);
      served.set(w, (served.get(w) ?? 0) + 1);
    }
    assert.equal(served.size, 2, `served by ${JSON.stringify([...served])}`);

    const text = await scrape();
    assert.deepEqual(
      sampleValue(text, 'zonegate_http_requests_total'),
      [total],
      'requests summed over workers',
    );
    // Versions are not summed: two workers on version 7 is version 7.
    assert.deepEqual(sampleValue(text, 'zonegate_zonemap_version'), [7]);
    assert.deepEqual(sampleValue(text, 'zonegate_zonemap_apply_seconds_count'), [2], 'one apply per worker');

    const zm = await request(`${admin}/zonemap`);
    assert.equal(((await zm.body.json()) as { version: number }).version, 7);

    // A worker that dies is replaced (new cluster id 3) and serves again.
    await request(`http://127.0.0.1:${httpPort}/crash`, { headers: { connection: 'close' } }).catch(
      () => null,
    );
    const seen = new Set<string>();
    for (let i = 0; i < 100 && !seen.has('3'); i++) {
      const res = await request(`http://127.0.0.1:${httpPort}/`, { headers: { connection: 'close' } }).catch(
        () => null,
      );
      if (res === null) continue;
      await res.body.text();
      seen.add(String(res.headers['x-worker']));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(seen.has('3'), `replacement worker serves (seen ${[...seen].join(',')})`);
    // The dead worker's requests stay counted: a summed counter never goes backwards.
    const afterCrash = sampleValue(await scrape(), 'zonegate_http_requests_total');
    assert.ok((afterCrash[0] ?? 0) >= total, `requests_total ${afterCrash.join()} after a worker died`);

    child.kill('SIGTERM');
    let failed = false;
    for (let i = 0; i < 50 && !failed; i++) {
      const h = await request(`${admin}/healthz`);
      await h.body.text();
      failed = h.statusCode === 503;
      if (!failed) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(failed, '/healthz fails once the primary drains');
    // Still serving during the drain delay.
    const during = await request(`http://127.0.0.1:${httpPort}/`);
    assert.equal(during.statusCode, 200);
    await during.body.text();
    const [code] = await exited;
    assert.equal(code, 0);
    await assert.rejects(request(`http://127.0.0.1:${httpPort}/`), /ECONNREFUSED/);
  });
});
