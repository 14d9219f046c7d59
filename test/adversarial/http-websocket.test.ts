/**
 * WebSocket tunnel bypass: an Upgrade request to an upstream that does not switch protocols
 * must not leave a raw pipe behind, through which the client could send requests the gateway
 * never checked (spoofed uid, zone, client address, any Host).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertServed, startRig, statuses, type Rig } from './http-fixture.js';

describe('WebSocket upgrade refused by the upstream: nothing tunnels past the gateway', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(async () => {
    await rig.close();
  });

  it('relays the upstream’s 200, closes, and never forwards the bytes sent after the upgrade', async () => {
    const smuggled =
      'GET /SMUGGLED HTTP/1.1\r\nHost: internal.admin\r\nx-ldc-uid: 999\r\nx-ldc-zone: rz09\r\n' +
      'X-Forwarded-For: 6.6.6.6\r\n\r\n';
    const reply = await new Promise<string>((resolve) => {
      const s = connect(rig.port, '127.0.0.1', () => {
        s.write(
          'GET /ws HTTP/1.1\r\nHost: a\r\nx-ldc-uid: 1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      let buf = '';
      let sent = false;
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (!sent) {
          sent = true;
          // On the same connection, as if a tunnel were open.
          s.write(smuggled);
        }
      });
      s.on('close', () => resolve(buf));
      s.on('error', () => resolve(buf));
      setTimeout(() => s.destroy(), 4000);
    });
    assert.deepEqual(statuses(reply), [200], reply.slice(0, 200));
    assert.match(reply, /connection: close/i);
    assert.match(reply, /"path":"\/ws"/);
    // Give a leaked pipe every chance to deliver: another request through the gateway first.
    await assertServed(rig, 'after a refused upgrade');
    assert.ok(
      !rig.rec.seen.some((s) => s.url.includes('SMUGGLED')),
      `the upstream saw: ${rig.rec.seen.map((s) => s.url).join(' ')}`,
    );
    for (const s of rig.rec.seen) assert.notEqual(s.headers['x-forwarded-for'], '6.6.6.6');
  });

  it('refuses an upgrade with a body or a second Host without contacting the upstream', async () => {
    const before = rig.rec.seen.length;
    for (const extra of ['Host: b\r\n', 'Content-Length: 5\r\n']) {
      const reply = await new Promise<string>((resolve) => {
        const s = connect(rig.port, '127.0.0.1', () =>
          s.write(
            `GET /ws HTTP/1.1\r\nHost: a\r\n${extra}x-ldc-uid: 1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhello`,
          ),
        );
        let buf = '';
        s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
        s.on('close', () => resolve(buf));
        s.on('error', () => resolve(buf));
        setTimeout(() => s.destroy(), 4000);
      });
      assert.deepEqual(statuses(reply), [400], `${extra.trim()}: ${reply.slice(0, 100)}`);
    }
    assert.equal(rig.rec.seen.length, before);
  });
});
