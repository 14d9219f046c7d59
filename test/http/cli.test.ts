import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exec } from '../helpers/child-processes.js';
import { runCli, runCliProcess } from '../helpers/cli.js';
import { curl } from '../helpers/http-client.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { exampleDoc } from '../helpers/maps.js';

describe('zonegate start / demo / certs init', () => {
  const running: GatewayProcess[] = [];
  after(async () => {
    for (const p of running) await p.stop('SIGKILL');
  });

  it('start exits 2 and lists every problem of a bad config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zg-cli-'));
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(
      cfg,
      'idc: hz-1\nlisteners:\n  - { name: web, protocol: http, port: 99999, bogus: 1 }\nzonemap: {}\n',
    );
    const r = await runCli(['start', '-c', cfg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /listeners\[0\]\.port: must be <= 65535/);
    assert.match(r.stderr, /listeners\[0\]\.bogus: is not a known property/);
  });

  it('start exits 1 at once, with the reason, when a cookie key file is missing', async () => {
    // Regression: the zone map source was started before the keyring loaded, and its file
    // watcher kept the failed process alive.
    const dir = mkdtempSync(join(tmpdir(), 'zg-cli-'));
    writeFileSync(join(dir, 'map.json'), JSON.stringify(exampleDoc()));
    const cfg = join(dir, 'gw.yaml');
    writeFileSync(
      cfg,
      'idc: hz-1\nlisteners:\n  - { name: web, protocol: http, port: 0, host: 127.0.0.1 }\n' +
        'zonemap: { file: map.json }\nadmin: { port: 0 }\n' +
        'identity: { cookie: { keys: [{ id: k1, secretFile: nowhere.secret }] } }\n',
    );
    // A process of its own: only a real process shows a handle keeping it alive. Still running
    // after 20 s, it is killed and runCliProcess rejects.
    const r = await runCliProcess(['start', '-c', cfg], { timeoutMs: 20_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cookie key k1: cannot read .*nowhere\.secret/);
  });

  it('start serves a config, then drains and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zg-cli-'));
    const cfg = join(dir, 'gw.yaml');
    // rz08's upstreams on a port nobody listens on (port 1): a routed 502 proves the whole path.
    const doc = exampleDoc();
    doc.zones.rz08!.upstreams!.http = { blue: ['127.0.0.1:1'], green: ['127.0.0.1:1'] };
    writeFileSync(join(dir, 'map.json'), JSON.stringify(doc));
    writeFileSync(
      cfg,
      'idc: sz-1\nlisteners:\n  - { name: web, protocol: http, port: 0, host: 127.0.0.1 }\nzonemap: { file: map.json }\nadmin: { port: 0 }\ndrain: { delayMs: 0 }\n',
    );
    const gw = spawnGateway(['start', '-c', cfg]);
    running.push(gw);
    const m = await gw.waitFor(/"name":"web","url":"(http:\/\/127\.0\.0\.1:\d+)"/);
    const r = await curl(['-H', 'x-ldc-uid: 85', '-H', 'x-request-id: cli-502', `${m[1]}/x?token=t`]);
    assert.equal(r.status, 502);
    assert.deepEqual(JSON.parse(r.body), {
      error: 'ZG_ERR_UPSTREAM_FAILED',
      reason: 'the upstream of this zone failed',
      requestId: 'cli-502',
    });
    // The address and cause are in the access log line of that request id, not in the answer.
    const line = await gw.waitFor(/^\{.*"requestId":"cli-502".*$/);
    const entry = JSON.parse(line[0]) as Record<string, unknown>;
    assert.equal(entry['zone'], 'rz08');
    assert.equal(entry['upstream'], '127.0.0.1:1');
    assert.equal(entry['path'], '/x');
    assert.match(String(entry['detail']), /127\.0\.0\.1:1 .*ECONNREFUSED/);
    assert.equal(await gw.stop('SIGTERM'), 0);
  });

  it('demo prints the curl lines, and they work', async () => {
    const demo = spawnGateway([
      'demo',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--mqtt-port',
      '0',
      '--admin-port',
      '0',
    ]);
    running.push(demo);
    const m = await demo.waitFor(/^curl -s -H 'x-ldc-uid: 1234' (\S+)$/);
    const r = await curl(['-H', 'x-ldc-uid: 1234', m[1]!]);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { zone: string }).zone, 'rz03');
    const h2 = await demo.waitFor(/^curl -s --http2 --cacert (\S+) (\S+)$/);
    const r2 = await curl(['--http2', '--cacert', h2[1]!, h2[2]!]);
    assert.equal(r2.httpVersion, '2');
    // The admin lines: loopback, and the requests above are in the metrics.
    const health = await demo.waitFor(/^curl -s (http:\/\/127\.0\.0\.1:\d+\/healthz)$/);
    assert.equal((await curl([health[1]!])).status, 200);
    const scrape = await demo.waitFor(/^curl -s (http:\/\/127\.0\.0\.1:\d+\/metrics) \| grep /);
    const metrics = await curl([scrape[1]!]);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^zonegate_http_requests_total\{[^}]*zone="rz03"[^}]*\} 1$/m);
    assert.match(metrics.body, /^zonegate_connections_total\{[^}]*protocol="http"[^}]*\} [1-9]/m);
    assert.match(metrics.body, /^zonegate_connections_total\{[^}]*protocol="https"[^}]*\} [1-9]/m);
    assert.equal(await demo.stop('SIGTERM'), 0);
  });

  it('certs init writes a CA, server and client certs openssl accepts, and a PKCS#12', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'zg-certs-')), 'out');
    const r = await runCli(['certs', 'init', dir, '--uid', '777', '--p12-password', 'pw']);
    assert.equal(r.code, 0, r.stderr);
    const openssl = async (args: string[]): Promise<string> => {
      const o = await exec('openssl', args);
      assert.equal(o.code, 0, o.stderr);
      return o.stdout + o.stderr;
    };
    assert.match(
      await openssl([
        'verify',
        '-CAfile',
        join(dir, 'ca.pem'),
        join(dir, 'server.pem'),
        join(dir, 'client.pem'),
      ]),
      /client\.pem: OK/,
    );
    assert.match(
      await openssl(['x509', '-in', join(dir, 'client.pem'), '-noout', '-ext', 'subjectAltName']),
      /URI:urn:zonegate:uid:777/,
    );
    assert.match(
      await openssl(['pkcs12', '-in', join(dir, 'client.p12'), '-passin', 'pass:pw', '-nokeys']),
      /subject=CN = 777/,
    );
    assert.equal((await runCli(['certs', 'init'])).code, 2);
  });
});
