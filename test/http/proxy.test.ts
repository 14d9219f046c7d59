import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DemoAnswer } from '../../src/gateway/demo-upstreams.js';
import { encodeProxyHeader } from '../../src/listeners/index.js';
import { curl } from '../helpers/http-client.js';
import { startHarness, type Harness } from './harness.js';

/** Send a PROXY header then two keep-alive requests on one connection; return both answers. */
function twoRequests(port: number, header: Buffer): Promise<DemoAnswer[]> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const req = 'GET /a HTTP/1.1\r\nhost: gw\r\nx-ldc-uid: 1234\r\n\r\n';
    // Header and first request in one write, as LVS does: the parser must see the rest intact.
    s.write(Buffer.concat([header, Buffer.from(req)]));
    let buf = '';
    const answers: DemoAnswer[] = [];
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, head))?.[1] ?? -1);
        if (len < 0 || buf.length < head + 4 + len) return;
        answers.push(JSON.parse(buf.slice(head + 4, head + 4 + len)) as DemoAnswer);
        buf = buf.slice(head + 4 + len);
        if (answers.length === 1) s.write(req);
        else {
          s.destroy();
          resolve(answers);
          return;
        }
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed after ${answers.length} answers`)));
  });
}

describe('PROXY protocol on an HTTP listener', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness({
      config: {
        listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1', proxyProtocol: true }],
      },
    });
    port = h.gw.address('web').port;
  });
  after(async () => {
    await h.close();
  });

  it('puts the v1 and v2 source address into x-forwarded-for, for every request of the connection', async () => {
    const v1 = await twoRequests(
      port,
      encodeProxyHeader(1, { address: '198.51.100.7', port: 40000 }, { address: '10.0.0.1', port: 80 }),
    );
    assert.deepEqual(
      v1.map((a) => a.headers['x-forwarded-for']),
      ['198.51.100.7', '198.51.100.7'],
    );
    assert.equal(v1[0]!.zone, 'rz03');
    const v2 = await twoRequests(
      port,
      encodeProxyHeader(2, { address: '2001:db8::7', port: 40000 }, { address: '2001:db8::1', port: 443 }),
    );
    assert.deepEqual(
      v2.map((a) => a.headers['x-forwarded-for']),
      ['2001:db8::7', '2001:db8::7'],
    );
    assert.equal(v2[0]!.headers['x-forwarded-port'], '443');
  });

  it('works with curl --haproxy-protocol and closes a connection without a header', async () => {
    const ok = await curl(['--haproxy-protocol', `http://127.0.0.1:${port}/x`]);
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as DemoAnswer).headers['x-forwarded-for'], '127.0.0.1');
    const bad = await curl([`http://127.0.0.1:${port}/x`]);
    assert.equal(bad.status, 0);
    assert.notEqual(bad.exitCode, 0);
  });
});
