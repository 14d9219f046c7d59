import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { subscribeMetrics, tlsFailureReason, upstreamErrorKind } from '../../src/admin/http-metrics.js';
import { EventBus, publishRequestDone } from '../../src/core/events.js';
import { createMetrics } from '../../src/admin/metrics.js';
import { testCerts } from '../helpers/certs.js';
import { curl } from '../helpers/http-client.js';
import { startHarness } from '../http/harness.js';

async function value(text: Promise<string>, line: RegExp): Promise<number> {
  const m = line.exec(await text);
  return m === null ? 0 : Number(m[1]);
}

describe('http and listener metrics', () => {
  it('counts responses by protocol, zone, colour, reason and status class', async () => {
    const metrics = createMetrics();
    const bus = new EventBus();
    subscribeMetrics(bus, metrics, { listeners: [] });
    for (const [status, ms] of [
      [200, 3],
      [204, 5],
    ] as const) {
      publishRequestDone(
        bus,
        'http1',
        'rz00',
        'blue',
        'uid-shard',
        status,
        ms,
        '127.0.0.1:9000',
        1,
        'GET',
        '/a',
        null,
      );
    }
    publishRequestDone(bus, 'http2', '', '', 'ZG_ERR_NO_LIVE_ZONE', 503, 1, '', -1, 'GET', '/b', null);
    bus.cookieRejected.publish({ reason: 'bad-signature' });
    bus.upstreamError.publish({
      protocol: 'http',
      zone: 'rz00',
      colour: 'blue',
      upstream: '127.0.0.1:9000',
      code: 'ECONNREFUSED',
    });
    const text = (): Promise<string> => metrics.registry.metrics();
    assert.equal(
      await value(
        text(),
        /^zonegate_http_requests_total\{protocol="http",zone="rz00",colour="blue",reason="uid-shard",status_class="2xx"\} (\d+)$/m,
      ),
      2,
    );
    assert.equal(
      await value(text(), /^zonegate_http_requests_total\{protocol="h2",.*status_class="5xx"\} (\d+)$/m),
      1,
    );
    assert.equal(
      await value(text(), /^zonegate_cookie_rejections_total\{reason="bad-signature"\} (\d+)$/m),
      1,
    );
    assert.equal(await value(text(), /^zonegate_upstream_errors_total\{.*kind="connect"\} (\d+)$/m), 1);
    assert.equal(
      await value(
        text(),
        /^zonegate_http_request_duration_seconds_bucket\{le="0.005",protocol="http".*\} (\d+)$/m,
      ),
      2,
    );
  });

  it('counts every HTTP and HTTPS connection once, by listener protocol, over real sockets', async () => {
    const c = await testCerts();
    const metrics = createMetrics();
    const bus = new EventBus();
    const h = await startHarness({
      events: bus,
      config: {
        listeners: [
          { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
          {
            name: 'web-tls',
            protocol: 'https',
            port: 0,
            host: '127.0.0.1',
            tls: { cert: c.serverCert, key: c.serverKey },
          },
        ],
      },
    });
    subscribeMetrics(bus, metrics, { listeners: h.gw.config.listeners });
    const connections = (protocol: string): Promise<number> =>
      value(
        metrics.registry.metrics(),
        new RegExp(`^zonegate_connections_total\\{protocol="${protocol}"\\} (\\d+)$`, 'm'),
      );
    const http = `http://127.0.0.1:${h.gw.address('web').port}`;
    const https = `https://localhost:${h.gw.address('web-tls').port}`;
    try {
      assert.equal(await connections('http'), 0);
      // One connection per curl run: 3 runs of one request, then one run of 4 keep-alive requests.
      for (let i = 0; i < 3; i++) assert.equal((await curl([`${http}/c`])).status, 200);
      const keepAlive = await curl([`${http}/k1`, `${http}/k2`, `${http}/k3`, `${http}/k4`]);
      assert.equal(keepAlive.exitCode, 0);
      // HTTPS (h2 here, by ALPN): counted after the handshake under the listener's protocol.
      for (let i = 0; i < 2; i++) assert.equal((await curl(['--cacert', c.ca, `${https}/t`])).status, 200);
      assert.equal(await connections('http'), 4);
      assert.equal(await connections('https'), 2);
      // Certificate expiry, as openssl reads the served file; reported for TLS listeners only.
      for (const l of h.gw.listeners) metrics.trackCertificate(l.name, () => l.certificateNotAfterMs());
      const enddate = await new Promise<string>((resolve, reject) =>
        execFile('openssl', ['x509', '-noout', '-enddate', '-in', c.serverCert], (err, out) => {
          if (err === null) resolve(out);
          else reject(new Error(`openssl x509: ${err.message}`, { cause: err }));
        }),
      );
      const notAfter = Date.parse(enddate.trim().replace(/^notAfter=/, '')) / 1000;
      const text = await metrics.registry.metrics();
      assert.equal(
        await value(
          Promise.resolve(text),
          /^zonegate_tls_certificate_not_after_timestamp_seconds\{listener="web-tls"\} (\d+)$/m,
        ),
        notAfter,
      );
      assert.doesNotMatch(text, /not_after_timestamp_seconds\{listener="web"\}/);
    } finally {
      await h.close();
    }
  });

  it('counts TLS handshakes by version and failures by a bounded reason', async () => {
    const metrics = createMetrics();
    const bus = new EventBus();
    subscribeMetrics(bus, metrics, {
      listeners: [
        {
          name: 'web-tls',
          protocol: 'https',
          port: 0,
          host: '127.0.0.1',
          proxyProtocol: false,
          backlog: 511,
          trustedProxies: [],
        },
      ],
    });
    const onEvent = (e: Parameters<typeof bus.listener.publish>[0]): void => bus.listener.publish(e);
    onEvent({ type: 'tls-handshake', listener: 'web-tls', protocol: 'TLSv1.3', resumed: false });
    onEvent({
      type: 'tls-error',
      listener: 'web-tls',
      code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
      message: '',
    });
    const text = await metrics.registry.metrics();
    assert.match(text, /^zonegate_tls_handshakes_total\{protocol="https",version="TLSv1.3"\} 1$/m);
    assert.match(
      text,
      /^zonegate_tls_handshake_failures_total\{protocol="https",reason="no-client-cert"\} 1$/m,
    );
  });

  it('maps OpenSSL codes to a handful of reasons', () => {
    assert.equal(tlsFailureReason('ERR_TLS_HANDSHAKE_TIMEOUT'), 'timeout');
    assert.equal(tlsFailureReason('ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN'), 'bad-client-cert');
    assert.equal(tlsFailureReason('ERR_SSL_UNSUPPORTED_PROTOCOL'), 'protocol');
    assert.equal(tlsFailureReason('ECONNRESET'), 'other');
  });

  it('maps upstream error codes (undici’s and the raw connections’) to the kind label', () => {
    assert.equal(upstreamErrorKind('ECONNREFUSED'), 'connect');
    assert.equal(upstreamErrorKind('UND_ERR_CONNECT_TIMEOUT'), 'timeout');
    assert.equal(upstreamErrorKind('UND_ERR_HEADERS_TIMEOUT'), 'timeout');
    assert.equal(upstreamErrorKind('UND_ERR_BODY_TIMEOUT'), 'timeout');
    assert.equal(upstreamErrorKind('UND_ERR_SOCKET'), 'reset');
    assert.equal(upstreamErrorKind('ECONNRESET'), 'reset');
    assert.equal(upstreamErrorKind('BAD_RESPONSE'), 'protocol');
  });
});
