/**
 * The chart's real templates, rendered (test/helm/go-template.ts) with the defaults, each
 * per-IDC values file and the cases an operator gets wrong, and checked as Kubernetes, LVS,
 * the gateway and Prometheus would read them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { createMetrics } from '../../src/admin/metrics.js';
import { validateConfig } from '../../src/core/config.js';
import {
  EXISTING_SECRETS,
  helmMerge,
  one,
  renderChart,
  valuesFile,
  type K8sObject,
  type Values,
} from './chart-fixture.js';

type Json = Record<string, unknown>;
const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Json | undefined)?.[k], o);

function pod(objects: readonly K8sObject[]): Json {
  return get(one(objects, 'Deployment'), 'spec.template.spec') as Json;
}
function container(objects: readonly K8sObject[]): Json {
  return (pod(objects).containers as Json[])[0] as Json;
}
function gatewayConfig(objects: readonly K8sObject[]): Json {
  return parseYaml(one(objects, 'ConfigMap').data?.['config.yaml'] ?? '') as Json;
}
const IDCS = ['hz-1', 'hz-2', 'sh-1', 'sh-2', 'sz-1'];

describe('chart render: secrets', () => {
  it('refuses to install with the defaults: no admin token, no cookie secret', () => {
    assert.throws(
      () => renderChart({}),
      /execution error at \(zonegate\/templates\/_helpers\.tpl:\d+:\d+\): admin token missing: set admin\.token\.existingSecret/,
    );
    assert.throws(
      () => renderChart({ admin: { token: { value: 'a-token-of-twenty-chars' } } }),
      /cookie key k1 has no secret: set identity\.cookie\.existingSecret/,
    );
    assert.throws(
      () => renderChart({ ...EXISTING_SECRETS, zonemap: { redis: { tls: { enabled: true } } } }),
      /zonemap\.redis\.tls\.enabled needs zonemap\.redis\.tls\.existingSecret/,
    );
  });

  it('with existing Secrets named, writes no Secret of its own and mounts the named ones', () => {
    const objects = renderChart(EXISTING_SECRETS);
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
      [],
    );
    const volumes = pod(objects).volumes as Json[];
    const secretOf = (name: string): unknown =>
      get(
        volumes.find((v) => v.name === name),
        'secret.secretName',
      );
    assert.equal(secretOf('admin-token'), 'zg-admin-token');
    assert.equal(secretOf('secrets'), 'zg-cookie-keys');
  });

  it('with secrets given as values, writes them into its Secrets', () => {
    const token = 'admin-token-for-this-test-0123';
    const cookie = 'cookie-secret-for-this-test-0123456789';
    const objects = renderChart({
      admin: { token: { value: token } },
      identity: { cookie: { keys: [{ id: 'k9', secret: cookie }] } },
    });
    assert.equal(one(objects, 'Secret', 'zonegate-hz-1-admin').stringData?.token, token);
    assert.equal(one(objects, 'Secret', 'zonegate-hz-1-secrets').stringData?.['cookie-k9'], cookie);
  });
});

describe('chart render: pod', () => {
  it('meets the restricted Pod Security Standard', () => {
    const objects = renderChart(EXISTING_SECRETS);
    const p = pod(objects);
    const c = container(objects);
    assert.equal(get(p, 'securityContext.runAsNonRoot'), true);
    assert.equal(get(p, 'securityContext.seccompProfile.type'), 'RuntimeDefault');
    assert.equal(get(c, 'securityContext.runAsNonRoot'), true);
    assert.ok(((get(c, 'securityContext.runAsUser') as number) ?? 0) > 0, 'runs as a non-zero uid');
    assert.equal(get(c, 'securityContext.allowPrivilegeEscalation'), false);
    assert.equal(get(c, 'securityContext.readOnlyRootFilesystem'), true);
    assert.deepEqual(get(c, 'securityContext.capabilities.drop'), ['ALL']);
    assert.equal(get(c, 'securityContext.capabilities.add'), undefined);
    assert.equal(get(c, 'securityContext.seccompProfile.type'), 'RuntimeDefault');
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) assert.equal(p[key], undefined, key);
    for (const v of p.volumes as Json[])
      assert.equal(v.hostPath, undefined, `${String(v.name)} is no hostPath`);
    // Non-root cannot bind below 1024 without a capability: every port is above.
    for (const port of c.ports as Json[])
      assert.ok((port.containerPort as number) >= 1024, String(port.name));
    // The only writable path on the read-only root: the snapshot directory.
    const writable = (c.volumeMounts as Json[]).filter((m) => m.readOnly !== true && m.subPath === undefined);
    assert.deepEqual(
      writable.map((m) => m.mountPath),
      ['/var/lib/zonegate'],
    );
    assert.equal(p.automountServiceAccountToken, false);
  });

  it('derives the preStop wait, readiness and grace period from drain.delayMs / timeoutMs', () => {
    for (const [delayMs, timeoutMs, grace, threshold] of [
      [5000, 30000, 45, 3],
      [8000, 45500, 64, 6],
      [0, 1000, 11, 1],
    ] as const) {
      const objects = renderChart({ ...EXISTING_SECRETS, drain: { delayMs, timeoutMs } });
      const p = pod(objects);
      assert.equal(p.terminationGracePeriodSeconds, grace, `grace for ${delayMs}+${timeoutMs}`);
      const c = container(objects);
      assert.equal(get(c, 'readinessProbe.failureThreshold'), threshold);
      assert.equal(get(c, 'readinessProbe.periodSeconds'), 1);
      const preStop = (get(c, 'lifecycle.preStop.exec.command') as string[]).join(' ');
      assert.match(preStop, /fetch\('http:\/\/127\.0\.0\.1:9901\/drain',\{method:'POST'/);
      assert.match(preStop, new RegExp(`setTimeout\\(\\(\\)=>\\{\\}, ${delayMs}\\)`));
      // The gateway drains by the same numbers.
      const cfg = gatewayConfig(objects);
      assert.deepEqual(cfg.drain, { delayMs, timeoutMs });
    }
  });

  it('spreads gateways over nodes', () => {
    const objects = renderChart(EXISTING_SECRETS);
    const [spread] = pod(objects).topologySpreadConstraints as Json[];
    assert.equal(spread?.topologyKey, 'kubernetes.io/hostname');
    assert.equal(spread?.maxSkew, 1);
    assert.deepEqual(
      get(spread, 'labelSelector.matchLabels'),
      get(one(objects, 'Deployment'), 'spec.selector.matchLabels'),
    );
  });

  it('rolls the pods when the config changes', () => {
    const checksum = (over: Values): unknown =>
      get(
        one(renderChart(helmMerge(EXISTING_SECRETS, over)), 'Deployment'),
        'spec.template.metadata.annotations',
      )?.['checksum/config' as never];
    const a = checksum({});
    assert.match(String(a), /^[0-9a-f]{64}$/);
    assert.equal(checksum({}), a);
    assert.notEqual(checksum({ logging: { level: 'debug' } }), a);
  });
});

describe('chart render: LVS health check', () => {
  for (const idc of IDCS) {
    it(`values-${idc}.yaml publishes /healthz on a NodePort that LVS can check`, () => {
      const objects = renderChart(valuesFile(`values-${idc}.yaml`), `zonegate-${idc}`);
      const health = one(objects, 'Service', `zonegate-${idc}-health`);
      assert.equal(get(health, 'spec.type'), 'NodePort');
      assert.equal(get(health, 'spec.externalTrafficPolicy'), 'Local');
      assert.equal(get(health, 'spec.publishNotReadyAddresses'), true, 'a draining pod answers 503 itself');
      const [port] = get(health, 'spec.ports') as Json[];
      assert.equal(port?.nodePort, 30901);
      assert.equal(port?.targetPort, 'admin');
      assert.deepEqual(
        get(health, 'spec.selector'),
        get(one(objects, 'Deployment'), 'spec.selector.matchLabels'),
      );
      const traffic = one(objects, 'Service', `zonegate-${idc}`);
      assert.equal(get(traffic, 'spec.externalTrafficPolicy'), 'Local');
      // The gateway's admin port listens beyond loopback, or the NodePort reaches nothing.
      assert.equal(get(gatewayConfig(objects), 'admin.host'), '0.0.0.0');
    });
  }

  it('has no health NodePort when LVS is not in front (the default LoadBalancer)', () => {
    const objects = renderChart(EXISTING_SECRETS);
    assert.deepEqual(
      objects.filter((o) => o.metadata.name.endsWith('-health')),
      [],
    );
  });
});

describe('chart render: gateway config', () => {
  it('is a config the gateway accepts, for the defaults and every IDC', () => {
    const cases: [string, Values, string][] = [
      ['defaults', EXISTING_SECRETS, 'zonegate-hz-1'],
      ...IDCS.map((idc): [string, Values, string] => [
        idc,
        valuesFile(`values-${idc}.yaml`),
        `zonegate-${idc}`,
      ]),
      [
        'file source, 1e6+ numbers',
        helmMerge(EXISTING_SECRETS, {
          zonemap: { source: 'file', file: { content: 'version: 1\n' } },
          identity: { cookie: { maxAgeSec: 31536000 } },
          drain: { delayMs: 5000, timeoutMs: 1800000 },
        }),
        'zonegate-hz-1',
      ],
    ];
    for (const [name, over, release] of cases) {
      const cfg = gatewayConfig(renderChart(over, release));
      assert.doesNotThrow(() => validateConfig(cfg), name);
    }
    // Go prints a float64 of a million or more as 2.592e+06: the template casts to int.
    const big = gatewayConfig(
      renderChart(helmMerge(EXISTING_SECRETS, { drain: { delayMs: 5000, timeoutMs: 1800000 } })),
    );
    assert.equal(get(big, 'drain.timeoutMs'), 1800000);
  });

  it('a value the gateway refuses makes a config that fails validation', () => {
    // The schema allows any keyPrefix characters the template quotes, the gateway is stricter
    // about listener names: the chart schema and the config schema must agree.
    const cfg = gatewayConfig(renderChart(helmMerge(EXISTING_SECRETS, { logging: { accessSampleRate: 1 } })));
    (cfg.drain as Json).delayMs = -1;
    assert.throws(() => validateConfig(cfg), /delayMs/);
  });

  it('reads Redis credentials and TLS from mounted Secrets, never from the ConfigMap', () => {
    const objects = renderChart(
      helmMerge(EXISTING_SECRETS, {
        zonemap: {
          redis: {
            username: 'zonegate',
            auth: { existingSecret: 'zonemap-redis', sentinelPasswordKey: 'sentinel-password' },
            tls: { enabled: true, existingSecret: 'zonemap-redis-tls', clientCert: true },
          },
        },
      }),
    );
    const redis = get(gatewayConfig(objects), 'zonemap.redis') as Json;
    assert.equal(redis.username, 'zonegate');
    assert.equal(redis.passwordFile, '/etc/zonegate/redis/password');
    assert.equal(redis.sentinelPasswordFile, '/etc/zonegate/redis/sentinel-password');
    assert.deepEqual(redis.tls, {
      ca: '/etc/zonegate/redis-tls/ca.crt',
      cert: '/etc/zonegate/redis-tls/tls.crt',
      key: '/etc/zonegate/redis-tls/tls.key',
    });
    const mounts = container(objects).volumeMounts as Json[];
    const volumes = pod(objects).volumes as Json[];
    for (const [volume, dir, secret] of [
      ['redis-auth', '/etc/zonegate/redis', 'zonemap-redis'],
      ['redis-tls', '/etc/zonegate/redis-tls', 'zonemap-redis-tls'],
    ] as const) {
      const m = mounts.find((x) => x.name === volume);
      assert.equal(m?.mountPath, dir);
      assert.equal(m?.readOnly, true);
      assert.equal(
        get(
          volumes.find((v) => v.name === volume),
          'secret.secretName',
        ),
        secret,
      );
    }
    // Without auth: no password file, no Secret volume.
    const plain = renderChart(EXISTING_SECRETS);
    assert.equal(get(gatewayConfig(plain), 'zonemap.redis.passwordFile'), undefined);
    assert.equal(
      (pod(plain).volumes as Json[]).find((v) => v.name === 'redis-auth'),
      undefined,
    );
  });
});

describe('chart render: PrometheusRule', () => {
  const objects = renderChart(helmMerge(EXISTING_SECRETS, { prometheusRule: { enabled: true } }));
  const rule = one(objects, 'PrometheusRule');
  const rules = (get(rule, 'spec.groups') as Json[]).flatMap((g) => g.rules as Json[]);

  it('alerts on map skew, no live zone, upstream errors, MQTT moves and certificate expiry', () => {
    assert.deepEqual(
      rules.map((r) => r.alert),
      [
        'ZonegateZoneMapVersionSkew',
        'ZonegateNoLiveZone',
        'ZonegateUpstreamErrorRatio',
        'ZonegateMqttMovesFailing',
        'ZonegateCertificateExpiry',
      ],
    );
    assert.match(String(rules[4]?.expr), / < 1209600$/, '14 days in seconds');
    assert.deepEqual(
      renderChart(EXISTING_SECRETS).filter((o) => o.kind === 'PrometheusRule'),
      [],
    );
  });

  it('uses only metric families the gateway exports', async () => {
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(
      rules.flatMap((r) => [...String(r.expr).matchAll(/\bzonegate_[a-z_]+/g)].map((m) => m[0])),
    );
    assert.ok(used.size >= 6, [...used].join(' '));
    assert.deepEqual(
      [...used].filter((m) => !exported.has(m)),
      [],
    );
  });

  it('passes promtool check rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zonegate-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, stringify(get(rule, 'spec')));
      const out = await new Promise<{ code: number; text: string }>((resolve) => {
        execFile('promtool', ['check', 'rules', file], (err, stdout, stderr) =>
          resolve({
            code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
            text: stdout + stderr,
          }),
        );
      });
      assert.equal(out.code, 0, out.text);
      assert.match(out.text, /SUCCESS: 5 rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
