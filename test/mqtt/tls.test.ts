/**
 * mqtts and mTLS through the shared listener code (src/listeners): TLS clients are routed like
 * plain ones, the uid can come from the client certificate, a missing client certificate fails
 * the handshake, and a PROXY protocol header in front of MQTT is understood.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { encodeProxyHeader } from '../../src/listeners/index.js';
import type { MqttServer } from '../../src/mqtt/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import {
  connectClient,
  endClient,
  startFixture,
  startStage,
  waitFor,
  type Fixture,
  type GatewayStage,
} from './fixture.js';

function tls(c: TestCerts, requestCert: boolean): Record<string, unknown> {
  return { cert: c.serverCert, key: c.serverKey, ca: c.ca, requestCert };
}

describe('mqtt over TLS, mTLS and PROXY protocol', () => {
  let certs: TestCerts;
  let f: Fixture;
  let byCert: MqttServer;
  let certStage: GatewayStage;
  const clients: MqttClient[] = [];
  let mqttsPort = 0;
  let mtlsPort = 0;
  let proxyPort = 0;

  before(async () => {
    certs = await testCerts();
    // uid 4242 (the test client certificate) is in shard 42: rz04.
    const base = { host: '127.0.0.1', port: 0 };
    f = await startFixture({
      zones: ['rz04'],
      listeners: [
        { ...base, name: 'mqtts', protocol: 'mqtts', tls: tls(certs, false) },
        { ...base, name: 'proxied', protocol: 'mqtt', proxyProtocol: true, trustedProxies: ['127.0.0.1'] },
      ],
    });
    // The uid from the certificate is a stage-wide rule: a second stage, as a second gateway would be.
    certStage = await startStage(f.holder, {
      config: { uid: { source: 'cert' } },
      identity: { uidPattern: '^[0-9]{1,20}$', certUid: { from: 'cn' } },
      listeners: [{ ...base, name: 'mtls', protocol: 'mqtts', tls: tls(certs, true) }],
    });
    byCert = certStage.server;
    mqttsPort = f.portOf('mqtts');
    mtlsPort = certStage.port;
    proxyPort = f.portOf('proxied');
  });
  after(async () => {
    await Promise.all(clients.map(endClient));
    await certStage.close();
    await f.close();
  });

  it('mqtts: a TLS client is routed by its client id and reaches its zone broker', async () => {
    const c = await connectClient(mqttsPort, {
      protocol: 'mqtts',
      ca: readFileSync(certs.ca),
      clientId: '4242-tls',
      protocolVersion: 5,
    });
    clients.push(c);
    const got = new Promise<string>((resolve) => c.on('message', (_t, m) => resolve(m.toString())));
    await c.subscribeAsync('tls/#', { qos: 1 });
    const direct = await connectClient(f.brokers.get('rz04')?.port as number, { clientId: 'pub-tls' });
    clients.push(direct);
    await direct.publishAsync('tls/x', 'over-tls', { qos: 1 });
    assert.equal(await got, 'over-tls');
    assert.ok(f.server.describeConnections().some((x) => x.protocol === 'mqtts' && x.zone === 'rz04'));
  });

  it('mTLS: the uid comes from the client certificate, whatever the client id', async () => {
    const c = await connectClient(mtlsPort, {
      protocol: 'mqtts',
      ca: readFileSync(certs.ca),
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
      clientId: 'no-uid-in-here',
      protocolVersion: 4,
    });
    clients.push(c);
    await waitFor('relayed', () => byCert.describeConnections().length === 1, 2000);
    assert.deepEqual(
      byCert.describeConnections().map((x) => [x.uid, x.zone]),
      [[certs.clientUid, 'rz04']],
    );
  });

  it('mTLS: no client certificate, no session', async () => {
    await assert.rejects(
      connectClient(mtlsPort, { protocol: 'mqtts', ca: readFileSync(certs.ca), clientId: '4242-nocert' }),
    );
    assert.equal(byCert.describeConnections().length, 1);
  });

  it('PROXY protocol v1 in front of MQTT', async () => {
    const header = encodeProxyHeader(
      1,
      { address: '203.0.113.7', port: 40000 },
      { address: '10.0.0.1', port: 8883 },
    );
    const connect = mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: '4242-proxied',
        clean: true,
        keepalive: 30,
      },
      { protocolVersion: 4 },
    );
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: proxyPort });
      s.on('error', reject);
      s.on('connect', () => s.write(Buffer.concat([header, connect])));
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
    });
    assert.deepEqual(reply.subarray(0, 4), Buffer.from([0x20, 0x02, 0x00, 0x00]));
  });
});
