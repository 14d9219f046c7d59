/**
 * Reads of accepted sockets into one shared buffer (src/core/socket-read.ts), over real TCP and
 * TLS connections: each read a Buffer of its own that later reads never overwrite, pause and
 * resume keeping every byte in order, the end still an 'end' event, a socket given back to a
 * stream reader (readAsStream) reading as before, and TLS sockets left alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { readAsStream, readIntoShared } from '../../src/core/socket-read.js';
import { testCerts } from '../helpers/certs.js';

/** `n` bytes of a pattern that differs at every offset of a 64 KB buffer. */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A reader slower than the wire: keeps each chunk, pauses, and resumes on a later turn. */
function slowReader(s: Socket, got: Buffer[]): (chunk: Buffer) => void {
  return (chunk) => {
    got.push(chunk);
    s.pause();
    setImmediate(() => s.resume());
  };
}

/** Resolves when the client has sent everything (the server then ends its side too). */
function whenEnded(s: Socket): Promise<void> {
  return new Promise((resolve) =>
    s.on('end', () => {
      s.end();
      resolve();
    }),
  );
}

describe('reading accepted sockets into a shared buffer', () => {
  let server: Server;
  let port: number;
  /** What the test does with each accepted socket. */
  let onSocket: (s: Socket) => void = () => undefined;

  before(async () => {
    server = createServer((s) => onSocket(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  async function client(): Promise<Socket> {
    const c = connect(port, '127.0.0.1');
    await once(c, 'connect');
    return c;
  }

  it('gives each read a Buffer of its own: a later read does not change an earlier one', async () => {
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => {
      onSocket = (s) => {
        assert.equal(
          readIntoShared(s, (c) => {
            chunks.push(c);
            s.write('ack');
          }),
          true,
        );
        void whenEnded(s).then(resolve);
      };
    });
    const c = await client();
    // One write per acknowledgement: each lands in its own read, all in the one shared buffer.
    for (const word of ['first read', 'SECOND', 'third read, longer than both']) {
      c.write(word);
      await once(c, 'data');
    }
    c.end();
    await ended;
    assert.deepEqual(
      chunks.map((b) => b.toString()),
      ['first read', 'SECOND', 'third read, longer than both'],
    );
  });

  it('keeps 4 MB whole and in order through a reader that pauses after every read', async () => {
    const payload = pattern(4 * 1024 * 1024);
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      onSocket = (s) => {
        readIntoShared(s, slowReader(s, got));
        void whenEnded(s).then(resolve);
      };
    });
    const c = await client();
    c.end(payload);
    await done;
    assert.ok(got.length > 1, 'the payload came in more than one read');
    const all = Buffer.concat(got);
    assert.equal(all.length, payload.length);
    assert.equal(sha(all), sha(payload));
  });

  it('reads as a plain stream again after readAsStream: data events, backpressure, every byte', async () => {
    const payload = pattern(3 * 1024 * 1024 + 17);
    const first: Buffer[] = [];
    const got: Buffer[] = [];
    let highest = 0;
    const done = new Promise<void>((resolve) => {
      onSocket = (s) => {
        readIntoShared(s, (c) => {
          first.push(c);
          // Handed on after the first read, as the fast path hands a socket to Node's server.
          readAsStream(s);
          const slowly = slowReader(s, got);
          s.on('data', (d: Buffer) => {
            highest = Math.max(highest, s.readableLength);
            slowly(d);
          });
        });
        void whenEnded(s).then(resolve);
      };
    });
    const c = await client();
    c.write('hello');
    await new Promise<void>((r) => setImmediate(r));
    c.end(payload);
    await done;
    assert.equal(first.length, 1, 'after readAsStream no read comes to the first reader');
    assert.ok(got.length > 1);
    const all = Buffer.concat([...first, ...got]);
    assert.equal(all.length, 5 + payload.length);
    assert.equal(all.subarray(0, 5).toString(), 'hello');
    assert.equal(sha(all.subarray(5)), sha(payload));
    // The stream's buffer stays near its mark: a full stream stops reading until it is read.
    assert.ok(highest <= 16 * 1024 + 64 * 1024, `stream buffered ${highest} bytes`);
  });

  it('leaves TLS sockets as they are: false, and their reads still come as data events', async () => {
    const certs = await testCerts();
    const tlsServer = createTlsServer({
      cert: await readFile(certs.serverCert),
      key: await readFile(certs.serverKey),
    });
    let answer: boolean | null = null;
    tlsServer.on('secureConnection', (s: TLSSocket) => {
      answer = readIntoShared(s, () => assert.fail('a TLS read must not come here'));
      s.on('data', (d: Buffer) => s.end(`echo ${d.toString()}`));
    });
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    try {
      const c = tlsConnect({
        port: (tlsServer.address() as AddressInfo).port,
        host: '127.0.0.1',
        ca: await readFile(certs.ca),
        servername: 'localhost',
      });
      await once(c, 'secureConnect');
      c.write('over tls');
      const [reply] = (await once(c, 'data')) as [Buffer];
      assert.equal(reply.toString(), 'echo over tls');
      assert.equal(answer, false);
      c.destroy();
    } finally {
      await new Promise((r) => tlsServer.close(r));
    }
  });
});
