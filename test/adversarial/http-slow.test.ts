/**
 * Clients that hold upstream connections: readers that leave or stop reading mid-download,
 * uploads that stall, an upload aborted while the pool is busy. With a pool of 4, each attack
 * uses more clients than the pool holds: a single pinned connection shows as a zone that stops
 * answering. The transfer idle timeout here is 800 ms.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DrainController } from '../../src/gateway/drain.js';
import { gatewayDrainParticipant } from '../../src/gateway/process.js';
import { testCerts } from '../helpers/certs.js';
import {
  assertServed,
  dial,
  POOL,
  startRig,
  until,
  withTls,
  type Rig,
  type Transport,
} from './http-fixture.js';

/** A raw client that sends `head` once it can (over TLS: after the handshake). */
function open(transport: Transport, port: number, head: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = dial(transport, port, () => {
      s.write(head);
      resolve(s);
    });
  });
}

/** Read until `bytes` arrived, then stop reading for good (the socket stays open). */
function readThenStall(s: Socket, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= bytes) {
        s.off('data', onData);
        s.pause();
        resolve();
      }
    };
    s.on('data', onData);
  });
}

const GET_BIG = 'GET /big?mb=20 HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\n\r\n';

// Over TLS the attackers use the HTTPS listener (the fast path on the TLS socket's cleartext
// side) while the normal client that must still be served comes over plain HTTP.
for (const transport of ['plain', 'tls'] as const) {
  describe(`slow and vanishing clients do not pin upstream connections (${transport})`, () => {
    let rig: Rig;
    let port: number;
    before(async () => {
      rig =
        transport === 'plain' ? await startRig() : await startRig({ listeners: withTls(await testCerts()) });
      port = rig.h.gw.address(transport === 'plain' ? 'web' : 'tls').port;
    });
    after(async () => {
      await rig.close();
    });

    /** `n` uploads of a 1 MB body that send `sent` bytes of it (`fill`) and then stall. */
    async function stalledUploads(n: number, sent: number, fill: number): Promise<Socket[]> {
      const uploads: Socket[] = [];
      for (let i = 0; i < n; i++) {
        const s = await open(
          transport,
          port,
          'POST /up HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nContent-Length: 1000000\r\n\r\n',
        );
        s.write(Buffer.alloc(sent, fill));
        uploads.push(s);
      }
      return uploads;
    }

    it('frees the connection of a reader that leaves mid-download (curl | head -c 1000000)', async () => {
      for (let i = 0; i < POOL + 2; i++) {
        const s = await open(transport, port, GET_BIG);
        await readThenStall(s, 1_000_000);
        s.destroy();
      }
      await assertServed(rig, 'readers that left');
    });

    it('frees the connection of a reader that stops reading, after the idle timeout', async () => {
      const stalled: Socket[] = [];
      for (let i = 0; i < POOL + 1; i++) {
        const s = await open(transport, port, GET_BIG);
        await readThenStall(s, 100_000);
        stalled.push(s);
      }
      try {
        await assertServed(rig, 'readers that stopped reading');
        // The last reader may have been served just now: wait for the gateway to cut them all
        // (no exchange left in the transfer watch), then read on: each sees its connection end.
        assert.ok(
          await until(() => rig.h.gw.http.ctx.transfers.size === 0, 4000),
          'every stalled reader was cut',
        );
        for (const s of stalled) s.resume();
        assert.ok(await until(() => stalled.every((s) => s.closed || s.destroyed), 4000));
      } finally {
        for (const s of stalled) s.destroy();
      }
    });

    it('answers 408 to small uploads that stall, without taking upstream connections meanwhile', async () => {
      const uploads: Socket[] = [];
      for (let i = 0; i < POOL + 1; i++) {
        uploads.push(
          await open(
            transport,
            port,
            'POST /up HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nContent-Length: 100000\r\n\r\n0123456789',
          ),
        );
      }
      try {
        // While they stall, the zone is served at once.
        await assertServed(rig, 'stalled small uploads');
        const replies = await Promise.all(
          uploads.map(
            (s) =>
              new Promise<string>((resolve) => {
                let buf = '';
                s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
                s.on('close', () => resolve(buf));
              }),
          ),
        );
        for (const r of replies) assert.match(r, /^HTTP\/1\.1 408 /);
      } finally {
        for (const s of uploads) s.destroy();
      }
    });

    it('cuts large uploads that stall after the idle timeout and frees their connections', async () => {
      const before = rig.rec.seen.length;
      const uploads = await stalledUploads(POOL + 1, 200_000, 0x62);
      try {
        assert.ok(
          await until(() => rig.rec.seen.length - before >= POOL),
          'the uploads reached the upstream',
        );
        await assertServed(rig, 'stalled large uploads');
        // None of them was executed as a complete request.
        assert.ok(rig.rec.seen.slice(before).every((s) => s.url !== '/up' || !s.complete));
      } finally {
        for (const s of uploads) s.destroy();
      }
    });

    it('survives a chunked upload aborted mid-body while the pool is busy, and serves after', async () => {
      const busy = await stalledUploads(POOL, 100_000, 0x63);
      try {
        const s = await open(
          transport,
          port,
          'POST /aborted HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        // Aborted once the chunk has left: the gateway reads it, then the end of the stream.
        await new Promise<void>((r) => s.write('10\r\n0123456789abcdef\r\n', () => r()));
        s.destroy();
        for (const b of busy) b.destroy();
        await assertServed(rig, 'aborted chunked upload');
        assert.ok(!rig.rec.seen.some((x) => x.url === '/aborted' && x.complete));
      } finally {
        for (const b of busy) b.destroy();
      }
    });

    it('reports the drain as not clean when closing cut a download', async () => {
      const s = await open(transport, port, GET_BIG);
      await readThenStall(s, 100_000);
      const drain = new DrainController({ delayMs: 0, timeoutMs: 5000 });
      drain.register(gatewayDrainParticipant(rig.h.gw, 0));
      try {
        assert.equal(await drain.start('test'), 'timeout');
      } finally {
        s.destroy();
      }
    });
  });
}
