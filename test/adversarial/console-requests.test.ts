/**
 * What a hostile client can send the drill console: oversized and malformed bodies, forged
 * action names, a foreign Host, a form post. Each gets a clear error and writes nothing.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ConsoleServer } from '../../src/console/index.js';
import type { RedisZoneMapStore } from '../../src/zonemap/stores/index.js';
import { startInProcessConsole, type InProcessConsole } from '../console/support.js';

const TOKEN = 'adversarial-console-token';

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
}

describe('console: hostile requests', () => {
  let consoleUnderTest: InProcessConsole;
  let store: RedisZoneMapStore;
  let server: ConsoleServer;

  before(async () => {
    consoleUnderTest = await startInProcessConsole({ tls: null, token: TOKEN });
    ({ store, server } = consoleUnderTest);
  });
  after(() => consoleUnderTest?.close());

  function send(
    method: string,
    path: string,
    body: string | Buffer | null,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${server.url}${path}`,
        {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let code: string | undefined;
            try {
              code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
            } catch {
              code = undefined;
            }
            resolve({ status: res.statusCode ?? 0, code });
          });
        },
      );
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  const apply = (action: unknown, extra: Record<string, unknown> = {}) =>
    send(
      'POST',
      '/api/apply',
      JSON.stringify({ action, expected: 1, reason: 'r', operator: 'eve', ...extra }),
    );

  it('refuses an oversized body, malformed JSON and a JSON that is not an object', async () => {
    assert.deepEqual(await send('POST', '/api/apply', Buffer.alloc(200 * 1024, 0x20)), {
      status: 413,
      code: 'ZG_ERR_CONSOLE_REQUEST',
    });
    assert.deepEqual(await send('POST', '/api/apply', '{"action":'), {
      status: 400,
      code: 'ZG_ERR_CONSOLE_REQUEST',
    });
    assert.deepEqual(await send('POST', '/api/dry-run', '[1,2]'), {
      status: 400,
      code: 'ZG_ERR_CONSOLE_REQUEST',
    });
  });

  it('refuses forged actions, names and operators with the reason', async () => {
    assert.deepEqual(await apply({ kind: 'shell', cmd: 'rm -rf /' }), { status: 400, code: 'ZG_ERR_USAGE' });
    assert.deepEqual(await apply({ kind: 'status', noun: 'zone', name: 'rz03\nINJECTED', status: 'down' }), {
      status: 400,
      code: 'ZG_ERR_USAGE',
    });
    assert.deepEqual(await apply({ kind: 'status', noun: 'zone', name: 'rz99', status: 'down' }), {
      status: 400,
      code: 'ZG_ERR_USAGE',
    });
    assert.deepEqual(
      await apply(
        { kind: 'status', noun: 'zone', name: 'rz03', status: 'down' },
        { operator: 'eve@evil host' },
      ),
      { status: 400, code: 'ZG_ERR_USAGE' },
    );
    assert.deepEqual(
      await apply({ kind: 'status', noun: 'zone', name: 'rz03', status: 'down' }, { reason: '' }),
      {
        status: 400,
        code: 'ZG_ERR_USAGE',
      },
    );
  });

  it('refuses an apply whose dry run was based on another version, and one the guard rails refuse', async () => {
    assert.deepEqual(
      await apply({ kind: 'status', noun: 'zone', name: 'rz03', status: 'down' }, { expected: 0 }),
      {
        status: 409,
        code: 'ZG_ERR_ZONEMAP_CONFLICT',
      },
    );
    assert.deepEqual(await apply({ kind: 'status', noun: 'city', name: 'hz', status: 'down' }), {
      status: 409,
      code: 'ZG_ERR_DRILL_REFUSED',
    });
  });

  it('refuses a foreign Host, a form post, and unknown paths', async () => {
    assert.deepEqual(await send('GET', '/api/state', null, { host: 'rebind.example:80' }), {
      status: 403,
      code: 'ZG_ERR_CONSOLE_FORBIDDEN',
    });
    assert.deepEqual(await send('POST', '/api/apply', 'a=b', { 'content-type': 'text/plain' }), {
      status: 415,
      code: 'ZG_ERR_CONSOLE_REQUEST',
    });
    assert.deepEqual(await send('GET', '/../../etc/passwd', null), {
      status: 404,
      code: 'ZG_ERR_CONSOLE_NOT_FOUND',
    });
    assert.deepEqual(await send('DELETE', '/api/state', null), {
      status: 404,
      code: 'ZG_ERR_CONSOLE_NOT_FOUND',
    });
  });

  it('wrote nothing through all of it', async () => {
    assert.equal((await store.read())?.version, 1);
    assert.equal((await store.history(10)).length, 1);
  });
});
