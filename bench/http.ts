/**
 * HTTP forwarding benchmark (issue 3): in one run, the same load (50 keep-alive connections,
 * ~100-byte answers, a routing cookie on every request) against
 *   - the upstream directly,
 *   - Zonegate with full routing on the example map (cookie verify cache → router → undici Pool),
 *   - a minimal undici Pool forwarder and a minimal http-proxy forwarder (the client choice),
 *   - nginx and HAProxy configured for the same cookie routing, when installed.
 * Each server under test is its own process, pinned to one core when `taskset` exists.
 * Load: wrk when installed, else autocannon. Prints req/s, p50, p99 and Zonegate's ratio to nginx.
 *
 *   npx tsx bench/http.ts [--duration 10] [--connections 50]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  Agent,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { GatewayConfig } from '../src/core/config.js';
import { CookieKeyring } from '../src/identity/index.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const BODY =
  '{"zone":"rz03","colour":"blue","uid":"1234","note":"a fixed answer of about one hundred bytes"}\n';
const SECRET = 'bench-secret-0123456789abcdef';

/**
 * CPU seconds (user + system) used so far by a process and all its descendants, from /proc.
 * The machine is shared, so req/s alone says more about the neighbours than about us;
 * requests per CPU-second does not.
 */
function treeCpuSeconds(pid: number): number {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  const visit = (p: number): void => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / tick;
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids !== '') for (const k of kids.split(' ')) visit(Number(k));
      }
    } catch {
      // The process may be gone or /proc may be missing (not Linux): count what we could read.
    }
  };
  visit(pid);
  return total;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/* ---------------------------------------------------------------- child roles */

function roleUpstream(port: number): void {
  createServer({ keepAliveTimeout: 120_000 }, (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(BODY)),
    });
    res.end(BODY);
  }).listen(port, '127.0.0.1', () => console.log('ready'));
}

async function roleUndici(port: number, upstream: string): Promise<void> {
  const { Pool } = await import('undici');
  const pool = new Pool(`http://${upstream}`, { connections: 128 });
  createServer((req, res) => {
    pool.request({ path: req.url ?? '/', method: 'GET', headers: req.headers }).then(
      (r) => {
        res.writeHead(r.statusCode, r.headers as Record<string, string>);
        r.body.pipe(res);
      },
      () => res.writeHead(502).end(),
    );
  }).listen(port, '127.0.0.1', () => console.log('ready'));
}

async function roleHttpProxy(port: number, upstream: string): Promise<void> {
  const { default: httpProxy } = await import('http-proxy');
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const proxy = httpProxy.createProxyServer({ target: `http://${upstream}`, agent });
  proxy.on('error', (_e, _req, res) => {
    if ('writeHead' in res) res.writeHead(502).end();
  });
  createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1', () => console.log('ready'));
}

/**
 * Zonegate as installed runs compiled JavaScript (bin/zonegate.js → dist/), so the benchmark
 * does too when the orchestrator's build worked; from source through tsx otherwise.
 */
async function roleZonegate(configFile: string, compiled: boolean): Promise<void> {
  interface Runtime {
    loadConfigFile(path: string): Promise<GatewayConfig>;
    startGateway(o: { config: GatewayConfig }): Promise<unknown>;
  }
  const from = (m: string): string =>
    compiled ? pathToFileURL(join(ROOT, 'dist', `${m}.js`)).href : `../src/${m}.js`;
  const { loadConfigFile } = (await import(from('core/config'))) as Pick<Runtime, 'loadConfigFile'>;
  const { startGateway } = (await import(from('gateway/gateway'))) as Pick<Runtime, 'startGateway'>;
  await startGateway({ config: await loadConfigFile(configFile) });
  console.log('ready');
}

/** `npm run build` into dist/; false (and the bench runs from source) when it fails. */
function build(): boolean {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
    {
      stdio: 'ignore',
    },
  );
  return r.status === 0;
}

/* ---------------------------------------------------------------- orchestrator */

interface Target {
  readonly name: string;
  readonly url: string;
  readonly note: string;
  /** The server process, for its CPU time (null: not measured). */
  readonly pid: number | null;
}

interface Result {
  readonly name: string;
  readonly rps: number | null;
  /** Requests per CPU-second of the server process tree: its throughput on one whole core. */
  readonly perCore: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly note: string;
}

const children: ChildProcess[] = [];

/** Start a server process (pinned to core 1 if possible) and wait for it to be ready. */
async function launch(cmd: string, args: string[], readyPort: number, pin: boolean): Promise<ChildProcess> {
  const [file, argv] = pin && has('taskset') ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.resume();
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited: ${err}`);
    const ok = await new Promise<boolean>((resolve) => {
      const r = httpRequest({ host: '127.0.0.1', port: readyPort, path: '/', method: 'GET' }, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', () => resolve(false));
      r.end();
    });
    if (ok) return child;
    if (Date.now() > deadline) throw new Error(`${cmd} not ready on ${readyPort}: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function node(role: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(HERE, 'http.ts'), '--role', role, ...args]];
}

function loadTool(): 'wrk' | 'autocannon' {
  return has('wrk') ? 'wrk' : 'autocannon';
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runLoad(
  url: string,
  cookie: string,
  seconds: number,
  connections: number,
): { rps: number; p50: number; p99: number; total: number } {
  const pin = has('taskset') ? ['taskset', '-c', '0'] : [];
  if (loadTool() === 'wrk') {
    const args = [
      ...pin,
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-H',
      `cookie: ldc=${cookie}`,
      url,
    ];
    const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
    const out = r.stdout;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
    const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
    const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    if (errors !== null) throw new Error(`${url}: ${errors[1]} non-2xx answers`);
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
    return { rps, p50, p99, total };
  }
  const bin = join(ROOT, 'node_modules', '.bin', 'autocannon');
  const args = [
    ...pin,
    bin,
    '-j',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-H',
    `cookie=ldc=${cookie}`,
    url,
  ];
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  const j = JSON.parse(r.stdout) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
  };
  if (j.non2xx > 0) throw new Error(`${url}: ${j.non2xx} non-2xx answers`);
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, total: j.requests.total };
}

function fmt(n: number | null, digits = 2): string {
  return n === null || !Number.isFinite(n)
    ? '—'
    : n >= 1000
      ? Math.round(n).toLocaleString('en-US')
      : n.toFixed(digits);
}

async function orchestrate(seconds: number, connections: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zg-bench-http-'));
  const template = (name: string, vars: Record<string, string>): string => {
    let text = readFileSync(join(HERE, name), 'utf8');
    for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{{${k}}}`, v);
    const out = join(dir, name.replace('.tmpl', ''));
    writeFileSync(out, text);
    return out;
  };
  const nginx = has('nginx');
  const haproxy = has('haproxy');

  // The upstream floats on any core: it must never be the bottleneck of what it serves.
  const upPort = await freePort();
  const upstream = `127.0.0.1:${upPort}`;
  let upstreamNote: string;
  let upPid: number | null;
  if (nginx) {
    const conf = template('nginx-upstream.conf.tmpl', { DIR: dir, PORT: String(upPort) });
    upPid =
      (
        await launch(
          'nginx',
          ['-e', join(dir, 'nginx-upstream-error.log'), '-c', conf, '-p', dir],
          upPort,
          false,
        )
      ).pid ?? null;
    upstreamNote = 'nginx return 200 (1 worker)';
  } else {
    upPid = (await launch(...node('upstream', String(upPort)), upPort, false)).pid ?? null;
    upstreamNote = 'node:http fixed answer';
  }
  const targets: Target[] = [
    { name: 'upstream directly', url: `http://${upstream}/`, note: upstreamNote, pid: upPid },
  ];

  // Zonegate: the example map with every zone's upstreams pointed at the bench upstream.
  const doc = parseYaml(
    readFileSync(join(ROOT, 'policies/examples/three-site-five-center.yaml'), 'utf8'),
  ) as {
    zones: Record<string, { upstreams?: { http?: { blue?: string[]; green?: string[] } } }>;
  };
  for (const z of Object.values(doc.zones))
    z.upstreams = { ...(z.upstreams ?? {}), http: { blue: [upstream], green: [upstream] } };
  writeFileSync(join(dir, 'map.json'), JSON.stringify(doc));
  const zgPort = await freePort();
  writeFileSync(
    join(dir, 'zonegate.yaml'),
    [
      'idc: hz-1',
      `listeners: [{ name: web, protocol: http, port: ${zgPort}, host: 127.0.0.1 }]`,
      'zonemap: { file: map.json }',
      `identity: { cookie: { keys: [{ id: k1, secret: "${SECRET}" }] } }`,
      'upstream: { connectionsPerEndpoint: 64 }',
    ].join('\n'),
  );
  const server = async (
    name: string,
    port: number,
    note: string,
    path: string,
    cmd: [string, string[]],
  ): Promise<void> => {
    const child = await launch(cmd[0], cmd[1], port, true);
    targets.push({ name, url: `http://127.0.0.1:${port}${path}`, note, pid: child.pid ?? null });
  };
  const compiled = build();
  await server(
    'Zonegate (full routing)',
    zgPort,
    `signed cookie → rz03 (hz-2), undici Pool, ${compiled ? 'compiled dist/' : 'from source via tsx (build failed)'}`,
    '/orders',
    node('zonegate', join(dir, 'zonegate.yaml'), compiled ? 'compiled' : 'source'),
  );
  const unPort = await freePort();
  await server(
    'bare undici forwarder',
    unPort,
    'Pool.request, no routing',
    '/',
    node('undici', String(unPort), upstream),
  );
  const hpPort = await freePort();
  await server(
    'bare http-proxy forwarder',
    hpPort,
    'keep-alive agent, no routing',
    '/',
    node('http-proxy', String(hpPort), upstream),
  );

  const missing: Result[] = [];
  if (nginx) {
    const port = await freePort();
    const conf = template('nginx-http.conf.tmpl', { DIR: dir, PORT: String(port), UPSTREAM: upstream });
    await server('nginx (cookie routing)', port, '1 worker, keepalive 64', '/orders', [
      'nginx',
      ['-e', join(dir, 'nginx-error.log'), '-c', conf, '-p', dir],
    ]);
  } else
    missing.push({
      name: 'nginx (cookie routing)',
      rps: null,
      perCore: null,
      p50: null,
      p99: null,
      note: 'not installed',
    });
  if (haproxy) {
    const port = await freePort();
    const conf = template('haproxy-http.cfg.tmpl', { PORT: String(port), UPSTREAM: upstream });
    await server('HAProxy (cookie routing)', port, 'nbthread 1, http-reuse always', '/orders', [
      'haproxy',
      ['-db', '-f', conf],
    ]);
  } else
    missing.push({
      name: 'HAProxy (cookie routing)',
      rps: null,
      perCore: null,
      p50: null,
      p99: null,
      note: 'not installed',
    });

  const keyring = await CookieKeyring.create([{ id: 'k1', secret: SECRET }]);
  const cookie = await keyring.sign({ uid: '1234', zone: 'rz03' });
  const results: Result[] = [];
  for (const t of targets) {
    runLoad(t.url, cookie, 2, connections); // warm-up: JIT, pools, keep-alive connections
    const cpu0 = t.pid === null ? NaN : treeCpuSeconds(t.pid);
    const r = runLoad(t.url, cookie, seconds, connections);
    const cpu = t.pid === null ? NaN : treeCpuSeconds(t.pid) - cpu0;
    const perCore = cpu > 0 ? r.total / cpu : null;
    results.push({ name: t.name, rps: r.rps, perCore, p50: r.p50, p99: r.p99, note: t.note });
    process.stderr.write(`${t.name}: ${fmt(r.rps)} req/s, ${fmt(perCore)} req per CPU-second\n`);
  }
  results.push(...missing);

  const nginxRow = results.find((r) => r.name.startsWith('nginx'));
  const zgRow = results.find((r) => r.name.startsWith('Zonegate'));
  const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
    a === null || a === undefined || b === null || b === undefined
      ? 'n/a (nginx not installed)'
      : `${((a / b) * 100).toFixed(0)}%`;
  const lines = [
    `HTTP forwarding, ${connections} keep-alive connections, ${seconds}s per target, ${Buffer.byteLength(BODY)}-byte answers, load by ${loadTool()}${has('taskset') ? '; servers under test pinned to core 1, load generator to core 0' : ''}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    '',
    '| target | req/s | req per CPU-second | p50 ms | p99 ms | note |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps, 0)} | ${fmt(r.perCore, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.note} |`,
    ),
    '',
    `Zonegate / nginx: ${ratio(zgRow?.rps, nginxRow?.rps)} of req/s, ${ratio(zgRow?.perCore, nginxRow?.perCore)} of req per CPU-second.`,
    'req per CPU-second = requests served / CPU time of the server process tree: its throughput on one whole core,',
    'independent of what else the (shared) machine was doing.',
  ];
  console.log(lines.join('\n'));
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
  },
  allowPositionals: true,
  strict: false,
});
const [a1, a2] = process.argv.slice(4);
switch (values.role) {
  case 'upstream':
    roleUpstream(Number(a1));
    break;
  case 'undici':
    await roleUndici(Number(a1), a2 ?? '');
    break;
  case 'http-proxy':
    await roleHttpProxy(Number(a1), a2 ?? '');
    break;
  case 'zonegate':
    await roleZonegate(a1 ?? '', a2 === 'compiled');
    break;
  default:
    process.on('exit', cleanup);
    process.on('SIGINT', () => process.exit(130));
    try {
      await orchestrate(Number(values.duration), Number(values.connections));
    } finally {
      cleanup();
    }
}
