/**
 * No 'error' event on the request path may take the process down: the test injects one on
 * every stream a proxied request involves — the client socket, the request, the response, the
 * request body stream the gateway creates, the HTTP/2 stream and session socket — while a request
 * is in flight (uploading, or waiting on the upstream). An unhandled one would be an uncaught
 * exception here, in the test's own process. After each, the zone still serves and its pool is
 * whole. Also the crash of the issue as reported: a chunked upload aborted mid-body while the
 * zone's pool is busy.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as h2connect, type ServerHttp2Stream } from 'node:http2';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { assertServed, POOL, startRig, until, type Rig, withTls } from './http-fixture.js';

type Target = 'socket' | 'request' | 'response' | 'body';

interface H1Start {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
}

/** The stream the gateway pipes the request into (its request body stream). */
function pipedInto(req: Readable): Readable | undefined {
  const state = (req as unknown as { _readableState: { pipes: Readable[] } })._readableState;
  return state.pipes[0];
}

describe('an error on any stream of the request path does not take the process down', () => {
  let rig: Rig;
  let c: TestCerts;
  // In the gateway's process (this one), an unhandled 'error' event is an uncaught exception.
  const uncaught: unknown[] = [];
  const collect = (err: unknown): void => {
    uncaught.push(err);
  };
  const assertNoneUncaught = (label: string): void => {
    assert.deepEqual(
      uncaught.splice(0).map((e) => String(e)),
      [],
      `${label}: no uncaught exception`,
    );
  };
  before(async () => {
    process.on('uncaughtException', collect);
    c = await testCerts();
    rig = await startRig({ listeners: withTls(c) });
  });
  after(async () => {
    process.off('uncaughtException', collect);
    await rig.close();
  });

  for (const target of ['socket', 'request', 'response', 'body'] as Target[]) {
    for (const phase of ['uploading', 'awaiting the upstream'] as const) {
      it(`HTTP/1.1: an 'error' on the ${target} while ${phase}`, async () => {
        let injected = false;
        let captured = false;
        const onStart = (m: unknown): void => {
          const { request, response, socket } = m as H1Start;
          // The recorder upstream runs in this process too: only the gateway's side.
          if (request.headers['x-inject'] !== target || socket.localPort !== rig.port) return;
          // Taken right after the gateway's handler ran (it runs just after this channel
          // message): the body stream is piped then, and the gateway keeps it after the upload.
          setImmediate(() => {
            const stream =
              target === 'socket'
                ? socket
                : target === 'request'
                  ? request
                  : target === 'response'
                    ? response
                    : pipedInto(request);
            captured = true;
            const fire = (): void => {
              assert.ok(stream, `the ${target} stream exists`);
              injected = true;
              stream.emit(
                'error',
                Object.assign(new Error(`injected on the ${target}`), { code: 'EINJECTED' }),
              );
            };
            if (phase === 'uploading') fire();
            else
              void until(
                () => rig.rec.seen.some((s) => s.url === `/big?mb=50&inject=${target}` && s.complete),
                3000,
              ).then(fire);
          });
        };
        subscribe('http.server.request.start', onStart);
        try {
          const s = connect(rig.port, '127.0.0.1');
          s.on('error', () => {});
          await new Promise((r) => s.once('connect', r));
          const path = phase === 'uploading' ? `/inject-${target}-up` : `/big?mb=50&inject=${target}`;
          if (phase === 'uploading') {
            s.write(
              `POST ${path} HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nx-inject: ${target}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
            );
          } else {
            // A request the upstream has received in full; the error comes while its answer streams.
            s.write(
              `POST ${path} HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nx-inject: ${target}\r\nContent-Length: 5\r\n\r\n`,
            );
            // The body only once the gateway has piped the request into its body stream.
            assert.ok(await until(() => captured, 3000));
            s.write('hello');
          }
          assert.ok(await until(() => injected, 3000), 'the error was injected');
          s.destroy();
          await assertServed(rig, `error on the ${target} while ${phase}`);
          assertNoneUncaught(`error on the ${target} while ${phase}`);
        } finally {
          unsubscribe('http.server.request.start', onStart);
        }
      });
    }
  }

  for (const target of ['stream', 'session socket'] as const) {
    it(`HTTP/2: an 'error' on the ${target} mid-upload`, async () => {
      let injected = false;
      const onStart = (m: unknown): void => {
        const { stream } = m as { stream: ServerHttp2Stream };
        setImmediate(() => {
          // The session's own socket (its public .socket is a proxy that refuses emit()).
          const victim =
            target === 'stream'
              ? stream
              : Object.getOwnPropertySymbols(stream.session ?? {})
                  .map((k) => (stream.session as unknown as Record<symbol, unknown>)[k])
                  .find((v): v is TLSSocket => v instanceof TLSSocket);
          assert.ok(victim);
          injected = true;
          victim.emit(
            'error',
            Object.assign(new Error(`injected on the h2 ${target}`), { code: 'EINJECTED' }),
          );
        });
      };
      subscribe('http2.server.stream.start', onStart);
      try {
        const s = h2connect(`https://localhost:${rig.h.gw.address('tls').port}`, { ca: c.caPem });
        s.on('error', () => {});
        const st = s.request(
          { ':method': 'POST', ':path': '/inject-h2', 'x-ldc-uid': '1' },
          { endStream: false },
        );
        st.on('error', () => {});
        st.write('hello');
        assert.ok(await until(() => injected, 3000), 'the error was injected');
        s.destroy();
        await assertServed(rig, `error on the h2 ${target}`);
        assertNoneUncaught(`error on the h2 ${target}`);
      } finally {
        unsubscribe('http2.server.stream.start', onStart);
      }
    });
  }

  it('survives a chunked upload aborted mid-body while the zone’s pool is busy (process exit 1 before)', async () => {
    // The gateway's side of each aborted upload (the recorder's requests start here too).
    let aborted: IncomingMessage | null = null;
    const onStart = (m: unknown): void => {
      const { request, socket } = m as H1Start;
      if (request.url === '/aborted' && socket.localPort === rig.port) aborted = request;
    };
    subscribe('http.server.request.start', onStart);
    try {
      const busy: Socket[] = [];
      for (let i = 0; i < POOL; i++) {
        const s = connect(rig.port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        // More than the gateway buffers before it takes an upstream connection: these hold the pool.
        s.write(`POST /busy HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nContent-Length: 10000000\r\n\r\n`);
        s.write(Buffer.alloc(200_000, 0x61));
        busy.push(s);
      }
      assert.ok(await until(() => rig.endpoint.pool.stats.running >= POOL), 'the pool is busy');
      for (let i = 0; i < 3; i++) {
        aborted = null;
        const s = connect(rig.port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        s.write(
          'POST /aborted HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n',
        );
        // Reset mid-body: once the chunk's 16 bytes are in the body stream the gateway pipes the
        // request into (under requestBufferBytes: held there, no upstream connection taken).
        assert.ok(
          await until(() => aborted !== null && (pipedInto(aborted)?.readableLength ?? 0) >= 16, 3000),
          'the gateway holds the partial body',
        );
        s.resetAndDestroy();
      }
      for (const b of busy) b.destroy();
      await assertServed(rig, 'an aborted chunked upload on a busy pool');
      assertNoneUncaught('an aborted chunked upload on a busy pool');
      assert.ok(!rig.rec.seen.some((x) => x.url === '/aborted' && x.complete));
    } finally {
      unsubscribe('http.server.request.start', onStart);
    }
  });
});
