/**
 * HTTP forwarding benchmark (issue 3): in one run, the same load (50 keep-alive connections,
 * ~100-byte answers, a routing cookie on every request) against
 *   - the upstream directly,
 *   - Zonegate with full routing on the example map (cookie verify cache → router → undici Pool),
 *     run as operators run it (`zonegate start -c CONFIG`: metrics on, access log sampled off
 *     like nginx's), once with one process and once with `--workers 2` (issue 6: how far
 *     throughput scales from one worker on this machine),
 *   - a minimal undici Pool forwarder and a minimal http-proxy forwarder (the client choice),
 *   - nginx and HAProxy configured for the same cookie routing, when installed.
 * Each single-process server under test is its own process, pinned to one core when `taskset`
 * exists; `--workers 2` floats on every core (pinning it to one would measure nothing).
 * Load: wrk when installed, else autocannon. Prints req/s, req per CPU-second, p50, p99,
 * Zonegate's ratio to nginx and the 2-worker / 1-worker scaling.
 *
 * Every server is started in its own process group and the whole group is stopped at the end
 * (SIGTERM, then SIGKILL after a few seconds), so cluster and nginx workers go with it.
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
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CookieKeyring } from '../src/identity/index.js';
import { freePort, has } from './support.js';

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
 * `zonegate start -c CONFIG --workers N`. Zonegate as installed runs compiled JavaScript
 * (bin/zonegate.js → dist/), so the benchmark does too when the orchestrator's build worked;
 * from source through tsx otherwise.
 */
function zonegate(configFile: string, workers: number, compiled: boolean): [string, string[]] {
  const cli = compiled
    ? [join(ROOT, 'bin', 'zonegate.js')]
    : ['--import', 'tsx', join(ROOT, 'src/cli/run.ts')];
  return [process.execPath, [...cli, 'start', '-c', configFile, '--workers', String(workers)]];
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
  /**
   * CPU-seconds of the server tree per second of load: how many cores it got. With workers,
   * this says whether the second core was there to be had at all on a shared machine.
   */
  readonly cores: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly note: string;
}

const ZG1 = 'Zonegate, 1 process (full routing)';
const ZG2 = 'Zonegate, --workers 2';

const children: ChildProcess[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

/** What a launched server must print (stdout or stderr) `count` times before it is ready. */
interface ReadyLine {
  readonly text: string;
  readonly count: number;
}

/**
 * Start a server process (pinned to core 1 if `pin` and possible) in its own process group,
 * and wait until it answers on readyPort (and printed `readyLine` often enough: with
 * `--workers 2`, one worker answering does not mean both are up).
 */
async function launch(
  cmd: string,
  args: string[],
  readyPort: number,
  pin: boolean,
  readyLine?: ReadyLine,
): Promise<ChildProcess> {
  const [file, argv] = pin && has('taskset') ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args];
  // detached: a process group of its own, so stopAll() reaches the workers it forks too.
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, detached: true });
  children.push(child);
  let out = '';
  let err = '';
  // Only startup matters; stop collecting after 64 KiB so a chatty server cannot grow memory.
  child.stdout?.on('data', (d: Buffer) => {
    if (out.length < 65_536) out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 65_536) err += d.toString();
  });
  const seen = (): number => (readyLine === undefined ? 0 : (out + err).split(readyLine.text).length - 1);
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
    if (ok && (readyLine === undefined || seen() >= readyLine.count)) return child;
    if (Date.now() > deadline) throw new Error(`${cmd} not ready on ${readyPort}: ${err}`);
    await sleep(100);
  }
}

/** SIGKILL every process group we started (a group outlives its leader while members remain). */
function killGroups(): void {
  load?.kill('SIGKILL');
  for (const c of children) {
    if (c.pid === undefined) continue;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // ESRCH: the whole group is gone already.
    }
  }
}

/** SIGTERM to every server (Zonegate drains, nginx shuts down), up to 5 s for them, then SIGKILL. */
async function stopAll(): Promise<void> {
  for (const c of children) if (running(c)) c.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (children.some(running) && Date.now() < deadline) await sleep(50);
  killGroups();
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

/** The load generator running now: killed with the servers if the bench is stopped mid-run. */
let load: ChildProcess | null = null;

/**
 * Run the load generator and resolve with its stdout. Asynchronous on purpose: while a
 * spawnSync blocks the event loop, a SIGINT / SIGTERM to the bench is not handled until it
 * returns. A run that hangs (a stuck server) is killed 30 s after it should have ended.
 */
function runTool(args: readonly string[], seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    load = child;
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      load = null;
      resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}

async function runLoad(
  url: string,
  cookie: string,
  seconds: number,
  connections: number,
): Promise<{ rps: number; p50: number; p99: number; total: number }> {
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
    const out = await runTool(args, seconds);
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
  const j = JSON.parse(await runTool(args, seconds)) as {
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
  /** A `zonegate start` config of its own (port, admin port) per Zonegate row. */
  const zonegateConfig = (name: string, port: number): string => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        'idc: hz-1',
        `listeners: [{ name: web, protocol: http, port: ${port}, host: 127.0.0.1 }]`,
        'zonemap: { file: map.json }',
        `identity: { cookie: { keys: [{ id: k1, secret: "${SECRET}" }] } }`,
        'upstream: { connectionsPerEndpoint: 64 }',
        // Admin on a free port (never the 9901 default someone may use); access log off like
        // nginx's (rate 0 still logs 5xx), startup lines on: launch() waits for "gateway up".
        'admin: { host: 127.0.0.1, port: 0 }',
        'logging: { level: info, accessSampleRate: 0 }',
        // The bench stops it with SIGTERM: no LVS to wait for, and a short bounded drain.
        'drain: { delayMs: 0, timeoutMs: 2000 }',
        'timeouts: { shutdownGraceMs: 1000 }',
      ].join('\n'),
    );
    return file;
  };
  const server = async (
    name: string,
    port: number,
    note: string,
    path: string,
    cmd: [string, string[]],
    pin = true,
    readyLine?: ReadyLine,
  ): Promise<void> => {
    const child = await launch(cmd[0], cmd[1], port, pin, readyLine);
    targets.push({ name, url: `http://127.0.0.1:${port}${path}`, note, pid: child.pid ?? null });
  };
  const compiled = build();
  const how = compiled ? 'compiled dist/' : 'from source via tsx (build failed)';
  // Every worker logs this once it serves (src/gateway/process.ts).
  const up = (count: number): ReadyLine => ({ text: '"msg":"gateway up"', count });
  const zg1Port = await freePort();
  await server(
    ZG1,
    zg1Port,
    `zonegate start; signed cookie → rz03 (hz-2), undici Pool, metrics on; ${how}`,
    '/orders',
    zonegate(zonegateConfig('zonegate-1', zg1Port), 1, compiled),
    true,
    up(1),
  );
  const zg2Port = await freePort();
  await server(
    ZG2,
    zg2Port,
    `same, primary + 2 workers, not pinned (shares the cores with ${loadTool()} and the upstream)`,
    '/orders',
    zonegate(zonegateConfig('zonegate-2', zg2Port), 2, compiled),
    false,
    up(2),
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
      cores: null,
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
      cores: null,
      p50: null,
      p99: null,
      note: 'not installed',
    });

  const keyring = await CookieKeyring.create([{ id: 'k1', secret: SECRET }]);
  const cookie = await keyring.sign({ uid: '1234', zone: 'rz03' });
  const results: Result[] = [];
  for (const t of targets) {
    await runLoad(t.url, cookie, 2, connections); // warm-up: JIT, pools, keep-alive connections
    const cpu0 = t.pid === null ? NaN : treeCpuSeconds(t.pid);
    const r = await runLoad(t.url, cookie, seconds, connections);
    const cpu = t.pid === null ? NaN : treeCpuSeconds(t.pid) - cpu0;
    const perCore = cpu > 0 ? r.total / cpu : null;
    const cores = cpu > 0 ? cpu / seconds : null;
    results.push({ name: t.name, rps: r.rps, perCore, cores, p50: r.p50, p99: r.p99, note: t.note });
    process.stderr.write(`${t.name}: ${fmt(r.rps)} req/s, ${fmt(perCore)} req per CPU-second\n`);
  }
  results.push(...missing);

  const nginxRow = results.find((r) => r.name.startsWith('nginx'));
  const zgRow = results.find((r) => r.name === ZG1);
  const zg2Row = results.find((r) => r.name === ZG2);
  const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
    a === null || a === undefined || b === null || b === undefined
      ? 'n/a (nginx not installed)'
      : `${((a / b) * 100).toFixed(0)}%`;
  const times = (a: number | null | undefined, b: number | null | undefined): string =>
    a === null || a === undefined || b === null || b === undefined || !(b > 0)
      ? 'n/a'
      : `${(a / b).toFixed(2)}×`;
  const lines = [
    `HTTP forwarding, ${connections} keep-alive connections, ${seconds}s per target, ${Buffer.byteLength(BODY)}-byte answers, load by ${loadTool()}${has('taskset') ? '; servers under test pinned to core 1, load generator to core 0' : ''}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    '',
    '| target | req/s | req per CPU-second | cores used | p50 ms | p99 ms | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps, 0)} | ${fmt(r.perCore, 0)} | ${fmt(r.cores)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.note} |`,
    ),
    '',
    `Zonegate / nginx: ${ratio(zgRow?.rps, nginxRow?.rps)} of req/s, ${ratio(zgRow?.perCore, nginxRow?.perCore)} of req per CPU-second.`,
    `Zonegate --workers 2 / 1 worker: ${times(zg2Row?.rps, zgRow?.rps)} req/s, ${times(zg2Row?.perCore, zgRow?.perCore)} req per CPU-second, ${times(zg2Row?.cores, zgRow?.cores)} cores used`,
    `(on ${cpus().length} cores shared with the load generator and the upstream, so the ideal ${cpus().length}× is out of reach here;`,
    'the req per CPU-second ratio is what the cluster costs per request: 1× = no overhead from the primary and IPC).',
    'req per CPU-second = requests served / CPU time of the server process tree: its throughput on one whole core,',
    'independent of what else the (shared) machine was doing.',
  ];
  console.log(lines.join('\n'));
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
  default:
    // Whatever way the bench ends, no server it started outlives it.
    process.on('exit', killGroups);
    process.on('SIGINT', () => process.exit(130));
    process.on('SIGTERM', () => process.exit(143));
    try {
      await orchestrate(Number(values.duration), Number(values.connections));
    } finally {
      await stopAll();
    }
}
