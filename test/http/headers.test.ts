import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCookie, scanRequestHeaders } from '../../src/http/index.js';
import { filterResponseHeaders } from '../../src/http/headers.js';

describe('request header scan', () => {
  it('picks routing inputs, drops hop-by-hop and client x-ldc-*, keeps the rest as spelled', () => {
    const s = scanRequestHeaders(
      [
        'Host',
        'gw.example',
        'X-LDC-UID',
        '42',
        'X-Ldc-Zone',
        'rz09',
        'x-ldc-hop',
        'sh-1',
        'Connection',
        'keep-alive, X-Secret',
        'X-Secret',
        's',
        'Transfer-Encoding',
        'chunked',
        'Cookie',
        'a=1; ldc="v.1.rz01.NDI.mac"; b=2',
        'X-Forwarded-For',
        '6.6.6.6',
        'Accept',
        '*/*',
      ],
      'x-ldc-uid',
      'ldc',
    );
    assert.equal(s.uid, '42');
    assert.equal(s.hop, 'sh-1');
    assert.equal(s.cookie, 'v.1.rz01.NDI.mac');
    assert.equal(s.host, 'gw.example');
    assert.equal(s.hosts, 1);
    assert.equal(s.chunked, true);
    assert.deepEqual(s.forwarded, ['X-Forwarded-For', '6.6.6.6']);
    // Host goes upstream once, from the request check, never from the client's list.
    assert.deepEqual(s.out, ['Cookie', 'a=1; ldc="v.1.rz01.NDI.mac"; b=2', 'Accept', '*/*']);
  });

  it('honours a uid header name without the x- prefix and HTTP/2 pseudo-headers', () => {
    const s = scanRequestHeaders(
      [':authority', 'h2.example', ':path', '/', 'ldc-user', '7', 'cookie', 'ldc=abc'],
      'ldc-user',
      'ldc',
    );
    assert.equal(s.uid, '7');
    assert.equal(s.authority, 'h2.example');
    assert.equal(s.host, undefined);
    assert.equal(s.cookie, 'abc');
    assert.deepEqual(s.out, ['cookie', 'ldc=abc']);
  });

  it('finds a cookie by exact name only', () => {
    assert.equal(findCookie('xldc=1; ldc=2', 'ldc'), '2');
    assert.equal(findCookie('ldcx=1', 'ldc'), undefined);
    assert.equal(findCookie('ldc=', 'ldc'), '');
  });
});

describe('response header filter', () => {
  const raw = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p, 'latin1'));

  it('drops hop-by-hop fields and those the upstream’s Connection names, keeps the rest as spelled', () => {
    const out: string[] = ['x-before', 'kept'];
    const uid = filterResponseHeaders(
      raw(
        'X-Route-Secret',
        'rz00',
        'Content-Type',
        'text/plain',
        'Connection',
        'keep-alive, X-Route-Secret',
        'connection',
        'x-other ,  close',
        'Keep-Alive',
        'timeout=5',
        'X-Other',
        '1',
        'Transfer-Encoding',
        'chunked',
        'X-Ldc-Uid',
        '42',
        'Set-Cookie',
        'a=1',
      ),
      out,
      'x-ldc-uid',
    );
    assert.equal(uid, '42');
    assert.deepEqual(out, ['x-before', 'kept', 'Content-Type', 'text/plain', 'Set-Cookie', 'a=1']);
  });

  it('never drops Content-Length, whatever Connection names', () => {
    const out: string[] = [];
    filterResponseHeaders(
      raw('Content-Length', '5', 'Connection', 'content-length, close'),
      out,
      'x-ldc-uid',
    );
    assert.deepEqual(out, ['Content-Length', '5']);
  });
});
