import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCookie, scanRequestHeaders } from '../../src/http/index.js';

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
