/**
 * HTTP data-plane benchmark: what one core of Zonegate costs per request next to nginx and
 * HAProxy, in one run. Three tables and a capacity note:
 *
 * 1. HTTP/1.1 keep-alive, one table: the upstream directly, nginx (1 worker), HAProxy
 *    (1 thread), a minimal undici `Pool.stream` forwarder (bench/_undici-forwarder.ts), the
 *    Node.js floor (bench/_raw-forwarder.ts: not a proxy, what Node's sockets alone cost),
 *    http-proxy (bench/_http-proxy-forwarder.ts), Zonegate with its DEFAULT config (access log
 *    on at the default rate, to a file; metrics on), Zonegate with the access log off, and
 *    Zonegate `--workers 2`. Requests alternate between uid-header and signed-cookie routing.
 * 2. TLS: full handshakes per second (`openssl s_time -new`, several client processes; no
 *    session resumption) and requests/s over TLS keep-alive (wrk https), per certificate type
 *    generated at bench time (ECDSA P-256, RSA 2048), for nginx, HAProxy and Zonegate.
 * 3. h2 over TLS (ALPN): h2load, same clients and streams for every proxy, and the Node.js
 *    h2 floor (bench/_h2-floor.ts: not a proxy, a bare http2 server answering itself).
 *
 * Rig: a static nginx upstream (~100-byte answers) and the load generator share core 0; the
 * proxy under test runs alone on core 1 (`taskset`; see the core options below), every proxy
 * the same way. Rounds alternate the targets; the table shows medians. CPU-seconds are read from /proc (utime +
 * stime of the proxy process and all its children) before and after each round, so req per
 * CPU-second holds even on a machine where other processes compete for the cores.
 *
 *   npx tsx bench/http.ts [--rounds 3] [--duration 8] [--connections 50] [--certs ecdsa,rsa]
 *                         [--tables http,tls,h2] [--quick]
 *                         [--load-cores 0] [--proxy-cores 1] [--workers-cores 1]
 *
 * On a machine with more cores, e.g. `--load-cores 0-1 --proxy-cores 2 --workers-cores 2-3`
 * gives the load more room and `--workers 2` a core per worker.
 *
 * `--quick` (1 round of 2 s, ECDSA only) proves the rig works; it measures nothing.
 * Every process is started in its own process group and the group is stopped at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { connect as netConnect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CookieKeyring } from '../src/identity/index.js';
import { capacityInputLine, TARGET_REQ_PER_S, type CapacityTarget } from './capacity.js';
import { freePort, has } from './support.js';
import { median } from './table.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const SECRET = 'bench-secret-0123456789abcdef';
const UID = '1234';

/* ---------------------------------------------------------------- options */

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    certs: { type: 'string', default: 'ecdsa,rsa' },
    tables: { type: 'string', default: 'http,tls,h2' },
    'h2-clients': { type: 'string', default: '10' },
    'h2-streams': { type: 'string', default: '10' },
    'handshake-clients': { type: 'string', default: '4' },
    // taskset core lists: the load generators and the upstream; every proxy; Zonegate --workers 2.
    'load-cores': { type: 'string', default: '0' },
    'proxy-cores': { type: 'string', default: '1' },
    'workers-cores': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
  strict: true,
});
const QUICK = values.quick;
const ROUNDS = QUICK ? 1 : Math.max(1, Number(values.rounds));
const SECONDS = QUICK ? 2 : Math.max(1, Number(values.duration));
const WARMUP_S = QUICK ? 1 : 2;
const CONNECTIONS = Number(values.connections);
const CERTS = (QUICK ? 'ecdsa' : values.certs)
  .split(',')
  .filter((c): c is CertType => c === 'ecdsa' || c === 'rsa');
const TABLES = new Set(values.tables.split(','));
const H2_CLIENTS = Number(values['h2-clients']);
const H2_STREAMS = Number(values['h2-streams']);
const HANDSHAKE_CLIENTS = Number(values['handshake-clients']);
const PIN = has('taskset');
const LOAD_CORES = values['load-cores'];
const PROXY_CORES = values['proxy-cores'];
const WORKERS_CORES = values['workers-cores'] ?? PROXY_CORES;

type CertType = 'ecdsa' | 'rsa';
const CERT_LABEL: Record<CertType, string> = { ecdsa: 'ECDSA P-256', rsa: 'RSA 2048' };

/* ---------------------------------------------------------------- processes */

/**
 * CPU seconds (user + system) used so far by a process and all its descendants, from /proc
 * (USER_HZ = 100 on Linux). nginx's and HAProxy's workers and Zonegate's cluster workers count.
 */
function treeCpuSeconds(pid: number, withChildren = true): number {
  let total = 0;
  const visit = (p: number): void => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100;
      if (!withChildren) return;
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids !== '') for (const k of kids.split(' ')) visit(Number(k));
      }
    } catch {
      // Gone, or no /proc (not Linux): count what could be read.
    }
  };
  visit(pid);
  return total;
}

const children = new Set<ChildProcess>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

/** `cmd args`, pinned to the `cores` list (taskset -c syntax) when taskset exists. */
function pinned(cores: string | null, cmd: string, args: readonly string[]): [string, string[]] {
  return cores !== null && PIN ? ['taskset', ['-c', cores, cmd, ...args]] : [cmd, [...args]];
}

interface Launch {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly port: number;
  readonly cores: string | null;
  /** Where stdout and stderr go (Zonegate's access log): a file, so no pipe costs the bench CPU. */
  readonly logFile?: string;
  /** Text the log must hold `count` times before the server is ready (every worker up). */
  readonly readyText?: { readonly text: string; readonly count: number };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Start a server in its own process group; resolve once its port accepts (and it said it is up). */
async function launch(l: Launch): Promise<ChildProcess> {
  const [file, argv] = pinned(l.cores, l.cmd, l.args);
  const fd = l.logFile === undefined ? null : openSync(l.logFile, 'a');
  const child = spawn(file, argv, {
    stdio: fd === null ? ['ignore', 'ignore', 'pipe'] : ['ignore', fd, fd],
    cwd: ROOT,
    detached: true,
  });
  if (fd !== null) closeSync(fd);
  children.add(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 65_536) err += d.toString();
  });
  const log = (): string => (l.logFile === undefined ? '' : readFileSync(l.logFile, 'utf8'));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!running(child)) throw new Error(`${l.cmd} exited: ${err}${log().slice(-2000)}`);
    const up = await portOpen(l.port);
    if (up && (l.readyText === undefined || log().split(l.readyText.text).length - 1 >= l.readyText.count))
      return child;
    if (Date.now() > deadline) throw new Error(`${l.cmd} not ready on ${l.port}: ${err}`);
    await sleep(100);
  }
}

/** SIGTERM the process group (Zonegate drains, nginx quits), SIGKILL it after 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined && running(child)) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // ESRCH: gone already.
    }
    const deadline = Date.now() + 5000;
    while (running(child) && Date.now() < deadline) await sleep(50);
  }
  killGroup(child);
  children.delete(child);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is gone.
  }
}

/** The load generator running now: killed with the servers if the bench is stopped mid-run. */
const loads = new Set<ChildProcess>();

function killAll(): void {
  for (const c of loads) c.kill('SIGKILL');
  for (const c of children) killGroup(c);
}

/** Run a client to its end and resolve with its stdout (killed 30 s after it should have ended). */
function runClient(cmd: string, args: readonly string[], seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const [file, argv] = pinned(LOAD_CORES, cmd, args);
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    loads.add(child);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      loads.delete(child);
      reject(e);
    });
    child.on('close', () => {
      clearTimeout(timer);
      loads.delete(child);
      resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}

/* ---------------------------------------------------------------- load generators */

interface Sample {
  readonly rps: number;
  /** Milliseconds; NaN where the tool does not report it. */
  readonly p50: number;
  readonly p99: number;
  /** Requests (or handshakes) completed in the measured window. */
  readonly total: number;
  readonly errors: string;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** wrk, one thread, keep-alive, the uid / cookie request mix from `script`. */
async function wrk(url: string, seconds: number, script: string): Promise<Sample> {
  const out = await runClient(
    'wrk',
    ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script, url],
    seconds,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx !== null) throw new Error(`${url}: ${non2xx[1]} non-2xx answers`);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  if (!(total > 0)) throw new Error(`${url}: wrk measured nothing:\n${out}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    total,
    errors: /Socket errors: [^\n]+/.exec(out)?.[0] ?? '',
  };
}

/**
 * Full TLS handshakes: `HANDSHAKE_CLIENTS` `openssl s_time -new` processes at once (each one
 * connects, handshakes, closes, again), so the server always has a handshake waiting.
 */
async function handshakes(port: number, seconds: number): Promise<Sample> {
  const outs = await Promise.all(
    Array.from({ length: HANDSHAKE_CLIENTS }, () =>
      runClient(
        'openssl',
        ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds)],
        seconds,
      ),
    ),
  );
  let total = 0;
  for (const out of outs) {
    const m = /(\d+) connections in [\d.]+ real seconds/.exec(out);
    if (m === null) throw new Error(`s_time on ${port} measured nothing:\n${out}`);
    total += Number(m[1]);
  }
  return { rps: total / seconds, p50: NaN, p99: NaN, total, errors: '' };
}

/** h2load, one thread; h2load reports the mean request time, not percentiles. */
async function h2load(url: string, seconds: number, cookie: string): Promise<Sample> {
  const out = await runClient(
    'h2load',
    [
      '-t1',
      '-c',
      String(H2_CLIENTS),
      '-m',
      String(H2_STREAMS),
      '-D',
      String(seconds),
      '-H',
      `cookie: ldc=${cookie}`,
      url,
    ],
    seconds,
  );
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      out,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (req === null || codes === null) throw new Error(`h2load on ${url} measured nothing:\n${out}`);
  const bad = Number(codes[3]) + Number(codes[4]);
  if (bad > 0) throw new Error(`${url}: ${bad} 4xx/5xx answers over h2`);
  if (!/Application protocol: h2/.test(out)) throw new Error(`${url}: h2 not negotiated:\n${out}`);
  const time = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  return {
    rps: Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN),
    p50: ms(time?.[3] ?? ''),
    p99: NaN,
    total: Number(req[4]),
    errors: Number(req[5]) + Number(req[6]) > 0 ? `${req[5]} failed, ${req[6]} errored` : '',
  };
}

/* ---------------------------------------------------------------- rounds */

interface Target {
  readonly name: string;
  readonly note: string;
  readonly child: ChildProcess;
  /** Runs one measurement of `seconds` against this target. */
  readonly run: (seconds: number) => Promise<Sample>;
  /** Called after each round (truncate an access log so the disk does not fill). */
  readonly afterRound?: () => void;
}

interface Row {
  readonly name: string;
  readonly note: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU-seconds of the proxy tree per round. */
  readonly cpu: number;
  /** CPU-seconds of the root process alone (a cluster's primary) per round. */
  readonly rootCpu: number;
  readonly perCpu: number;
  readonly errors: string;
}

/** Warm every target up, then `ROUNDS` rounds over all of them in turn; medians per target. */
async function measure(title: string, targets: readonly Target[]): Promise<Row[]> {
  for (const t of targets) await t.run(WARMUP_S); // JIT, pools, keep-alive connections
  const samples = new Map<string, { s: Sample; cpu: number; rootCpu: number }[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      const pid = t.child.pid ?? 0;
      const cpu0 = treeCpuSeconds(pid);
      const root0 = treeCpuSeconds(pid, false);
      const s = await t.run(SECONDS);
      const cpu = treeCpuSeconds(pid) - cpu0;
      const rootCpu = treeCpuSeconds(pid, false) - root0;
      t.afterRound?.();
      const list = samples.get(t.name) ?? [];
      list.push({ s, cpu, rootCpu });
      samples.set(t.name, list);
      process.stderr.write(
        `${title} round ${r + 1}/${ROUNDS} ${t.name}: ${Math.round(s.rps)}/s, ${cpu.toFixed(2)} CPU-s\n`,
      );
    }
  }
  return targets.map((t) => {
    const list = samples.get(t.name) ?? [];
    return {
      name: t.name,
      note: t.note,
      rps: median(list.map((x) => x.s.rps)),
      p50: median(list.map((x) => x.s.p50)),
      p99: median(list.map((x) => x.s.p99)),
      cpu: median(list.map((x) => x.cpu)),
      rootCpu: median(list.map((x) => x.rootCpu)),
      perCpu: median(list.map((x) => (x.cpu > 0 ? x.s.total / x.cpu : NaN))),
      errors: [...new Set(list.map((x) => x.s.errors).filter((e) => e !== ''))].join('; '),
    };
  });
}

/* ---------------------------------------------------------------- formatting */

function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0
    ? '—'
    : `${(a / b).toFixed(2)}×`;
}

function markdown(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((h, i) => (i === 0 || h === 'note' ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/* ---------------------------------------------------------------- the rig */

interface Rig {
  readonly dir: string;
  readonly upstream: string;
  readonly cookie: string;
  /** wrk script: requests alternate between the uid header and the signed cookie. */
  readonly mixScript: string;
  readonly compiled: boolean;
}

function template(dir: string, name: string, vars: Record<string, string>, suffix = ''): string {
  let text = readFileSync(join(HERE, name), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{{${k}}}`, v);
  const out = join(dir, name.replace('.tmpl', '').replace(/(\.\w+)$/, `${suffix}$1`));
  writeFileSync(out, text);
  return out;
}

/** `npm run build` into dist/ (Zonegate as installed runs compiled JavaScript); false if it fails. */
function build(): boolean {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
    { stdio: 'ignore' },
  );
  return r.status === 0;
}

/** A certificate and key of `type` for 127.0.0.1, made by openssl now (never a checked-in key). */
function makeCert(dir: string, type: CertType): { cert: string; key: string; pem: string } {
  const cert = join(dir, `${type}.pem`);
  const key = join(dir, `${type}-key.pem`);
  const newkey =
    type === 'ecdsa' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      ...newkey,
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  if (r.status !== 0) throw new Error(`openssl could not make a ${type} certificate`);
  const pem = join(dir, `${type}-haproxy.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, pem };
}

/** `zonegate start -c CONFIG --workers N`, compiled (bin/zonegate.js → dist/) when the build worked. */
function zonegateCommand(rig: Rig, config: string, workers: number): [string, string[]] {
  const cli = rig.compiled
    ? [join(ROOT, 'bin', 'zonegate.js')]
    : ['--import', 'tsx', join(ROOT, 'src/cli/run.ts')];
  return [process.execPath, [...cli, 'start', '-c', config, '--workers', String(workers)]];
}

/**
 * A Zonegate config that is the default but for what a bench needs: the listener, the map,
 * a cookie key, the admin listener on a free port (metrics stay on), and a short drain so the
 * bench can stop it. `extra` adds lines (the access log off, a TLS listener).
 */
function zonegateConfig(rig: Rig, name: string, listener: string, extra: readonly string[] = []): string {
  const file = join(rig.dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'idc: hz-1',
      `listeners: [${listener}]`,
      'zonemap: { file: map.json }',
      `identity: { cookie: { keys: [{ id: k1, secret: "${SECRET}" }] } }`,
      'admin: { host: 127.0.0.1, port: 0 }',
      'drain: { delayMs: 0, timeoutMs: 2000 }',
      'timeouts: { shutdownGraceMs: 1000 }',
      ...extra,
    ].join('\n'),
  );
  return file;
}

async function zonegate(
  rig: Rig,
  name: string,
  port: number,
  listener: string,
  workers: number,
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; log: string }> {
  const config = zonegateConfig(rig, name, listener, extra);
  const log = join(rig.dir, `${name}.log`);
  const [cmd, args] = zonegateCommand(rig, config, workers);
  // Every worker logs "gateway up" once it serves (src/gateway/process.ts).
  const child = await launch({
    cmd,
    args,
    port,
    cores: workers > 1 ? WORKERS_CORES : PROXY_CORES,
    logFile: log,
    readyText: { text: '"msg":"gateway up"', count: workers },
  });
  return { child, log };
}

/** `node --import tsx bench/<file> PORT …args`: a Node.js target of the tables. */
function nodeRole(file: string, port: number, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(HERE, file), String(port), ...args]];
}

async function nginxServer(
  rig: Rig,
  tmpl: string,
  port: number,
  vars: Record<string, string>,
  suffix: string,
  cores = PROXY_CORES,
) {
  const conf = template(
    rig.dir,
    tmpl,
    { DIR: rig.dir, PORT: String(port), UPSTREAM: rig.upstream, WORKERS: '1', SUFFIX: suffix, ...vars },
    suffix,
  );
  return launch({
    cmd: 'nginx',
    args: ['-e', join(rig.dir, `nginx${suffix}-error.log`), '-c', conf, '-p', rig.dir],
    port,
    cores,
  });
}

async function haproxyServer(
  rig: Rig,
  tmpl: string,
  port: number,
  vars: Record<string, string>,
  suffix: string,
) {
  const conf = template(rig.dir, tmpl, { PORT: String(port), UPSTREAM: rig.upstream, ...vars }, suffix);
  return launch({ cmd: 'haproxy', args: ['-db', '-f', conf], port, cores: PROXY_CORES });
}

/* ---------------------------------------------------------------- table 1: HTTP/1.1 */

const NGINX = 'nginx, 1 worker';
const NGINX_WORKERS = 'nginx, 2 workers';
const HAPROXY = 'HAProxy, 1 thread';
const UNDICI = 'minimal undici forwarder';
const NODE_FLOOR = 'Node.js floor: raw socket relay';
const NODE_TLS_FLOOR = 'Node.js floor: bare tls.Server relay';
const NODE_H2_FLOOR = 'Node.js floor: bare http2 server, answering itself';
const H2_FORWARDER = 'minimal h2 forwarder: stream API + undici';
const ZG_DEFAULT = 'Zonegate, default config';
const ZG_NOLOG = 'Zonegate, access log off';
const ZG_WORKERS = 'Zonegate, default config, --workers 2';

async function httpTable(rig: Rig, upstreamChild: ChildProcess): Promise<Row[]> {
  const started: Target[] = [];
  const plain = (
    name: string,
    note: string,
    child: ChildProcess,
    port: number,
    afterRound?: () => void,
  ): Target => ({
    name,
    note,
    child,
    run: (s) => wrk(`http://127.0.0.1:${port}/orders`, s, rig.mixScript),
    ...(afterRound === undefined ? {} : { afterRound }),
  });
  const how = rig.compiled ? 'compiled dist/' : 'from source via tsx (build failed)';
  try {
    const upPort = Number(rig.upstream.split(':')[1]);
    started.push(
      plain(
        'upstream directly',
        `nginx \`return 200\`, on core(s) ${LOAD_CORES} with wrk`,
        upstreamChild,
        upPort,
      ),
    );
    if (has('nginx')) {
      const port = await freePort();
      started.push(
        plain(
          NGINX,
          'cookie routing by map, keepalive 64',
          await nginxServer(rig, 'nginx-http.conf.tmpl', port, {}, ''),
          port,
        ),
      );
      // The same two processes on the same core(s) as Zonegate --workers 2: what the rig's
      // sharing costs a server that has no cluster module, so the two ratios can be compared.
      const port2 = await freePort();
      started.push(
        plain(
          NGINX_WORKERS,
          `\`worker_processes 2\` on core(s) ${WORKERS_CORES}, as Zonegate --workers 2`,
          await nginxServer(rig, 'nginx-http.conf.tmpl', port2, { WORKERS: '2' }, '-2w', WORKERS_CORES),
          port2,
        ),
      );
    }
    if (has('haproxy')) {
      const port = await freePort();
      started.push(
        plain(
          HAPROXY,
          'cookie routing by req.cook, http-reuse always',
          await haproxyServer(rig, 'haproxy-http.cfg.tmpl', port, {}, ''),
          port,
        ),
      );
    }
    // The Node.js forwarders (bench/_*.ts), each alone on the proxy core like the others.
    for (const [name, file, note] of [
      [UNDICI, '_undici-forwarder.ts', '`Pool.stream`, no routing (bench/_undici-forwarder.ts)'],
      [
        NODE_FLOOR,
        '_raw-forwarder.ts',
        'not a proxy: each client to its own upstream socket, answers cut by Content-Length only (bench/_raw-forwarder.ts)',
      ],
      [
        'http-proxy',
        '_http-proxy-forwarder.ts',
        'keep-alive agent, no routing (bench/_http-proxy-forwarder.ts)',
      ],
    ] as const) {
      const port = await freePort();
      const [cmd, args] = nodeRole(file, port, rig.upstream);
      started.push(plain(name, note, await launch({ cmd, args, port, cores: PROXY_CORES }), port));
    }
    const listener = (p: number): string => `{ name: web, protocol: http, port: ${p}, host: 127.0.0.1 }`;
    for (const [name, extra, workers, note] of [
      [ZG_DEFAULT, [], 1, `access log on (rate 1) to a file, metrics on; ${how}`],
      [ZG_NOLOG, ['logging: { accessSampleRate: 0 }'], 1, 'same, `logging.accessSampleRate: 0`'],
      [ZG_WORKERS, [], 2, `default config, primary + 2 workers on core(s) ${WORKERS_CORES} (SO_REUSEPORT)`],
    ] as const) {
      const port = await freePort();
      const zg = await zonegate(rig, name.replace(/\W+/g, '-'), port, listener(port), workers, extra);
      started.push(plain(name, note, zg.child, port, () => truncateSync(zg.log, 0)));
    }
    return await measure('http', started);
  } finally {
    for (const t of started) if (t.child !== upstreamChild) await stop(t.child);
  }
}

function printHttp(rows: readonly Row[], loadBefore: number): void {
  const nginx = rows.find((r) => r.name === NGINX);
  const by = (n: string): Row | undefined => rows.find((r) => r.name === n);
  console.log(
    `HTTP/1.1 keep-alive: wrk -t1 -c${CONNECTIONS}, requests alternating \`x-ldc-uid\` and a signed \`ldc\` cookie, ` +
      `~100-byte answers from a static nginx upstream; ${PIN ? `upstream + wrk on core(s) ${LOAD_CORES}, the proxy alone on core(s) ${PROXY_CORES}` : 'no taskset: nothing pinned'}; ` +
      `${ROUNDS} round(s) of ${SECONDS} s, medians. CPU-s = utime + stime of the proxy and its children per round. ` +
      `Load average ${loadBefore.toFixed(1)} on ${cpus().length} cores before the run${loadBefore > 0.5 ? ' (other processes were running)' : ''}.`,
  );
  console.log('');
  console.log(
    markdown(
      [
        'target',
        'req/s',
        'p50 ms',
        'p99 ms',
        'CPU-s',
        'req per CPU-s',
        'req/CPU-s vs nginx',
        'p99 vs nginx',
        'note',
      ],
      rows.map((r) => [
        r.name,
        num(r.rps, 0),
        num(r.p50),
        num(r.p99),
        num(r.cpu),
        num(r.perCpu, 0),
        ratio(r.perCpu, nginx?.perCpu),
        ratio(r.p99, nginx?.p99),
        r.note + (r.errors === '' ? '' : `; wrk: ${r.errors}`),
      ]),
    ),
  );
  console.log('');
  const zg = by(ZG_DEFAULT);
  const undici = by(UNDICI);
  const zg2 = by(ZG_WORKERS);
  const verdict = (ok: boolean | null): string => (ok === null ? 'not measured' : ok ? 'met' : 'NOT met');
  const cmp = (a: number | undefined, b: number | undefined, f: (x: number) => boolean): boolean | null =>
    a === undefined || b === undefined || !(b > 0) ? null : f(a / b);
  console.log(
    `Goal, default config: ≥ 0.5× nginx's req per CPU-second: ${ratio(zg?.perCpu, nginx?.perCpu)}, ${verdict(cmp(zg?.perCpu, nginx?.perCpu, (x) => x >= 0.5))}; ` +
      `p99 ≤ 2× nginx's: ${ratio(zg?.p99, nginx?.p99)}, ${verdict(cmp(zg?.p99, nginx?.p99, (x) => x <= 2))}; ` +
      `≥ 1.3× the minimal undici forwarder's req per CPU-second: ${ratio(zg?.perCpu, undici?.perCpu)}, ${verdict(cmp(zg?.perCpu, undici?.perCpu, (x) => x >= 1.3))}.`,
  );
  const floor = by(NODE_FLOOR);
  console.log(
    `Node.js floor (two reads and two writes per request, nothing else): ${ratio(floor?.perCpu, nginx?.perCpu)} nginx's req per CPU-second; ` +
      `Zonegate with its defaults runs at ${ratio(zg?.perCpu, floor?.perCpu)} of it: the rest of its cost per request is its own work.`,
  );
  console.log(
    `--workers 2 / 1 process, req per CPU-second: ${ratio(zg2?.perCpu, zg?.perCpu)} (1.00× = no cluster tax; on core(s) ${WORKERS_CORES} against ${PROXY_CORES}, so this is cost per request, not scaling); ` +
      `the primary itself used ${num(zg2?.rootCpu ?? NaN)} of the ${num(zg2?.cpu ?? NaN)} CPU-s, the workers the rest. ` +
      `nginx on the same rig, 2 workers / 1 worker: ${ratio(by(NGINX_WORKERS)?.perCpu, nginx?.perCpu)} (what two processes sharing ${WORKERS_CORES === PROXY_CORES ? 'one core' : 'those cores'} cost a server without a cluster module).`,
  );
  console.log('');
  // Capacity: printed here so a re-run refreshes it; run-all rebuilds the fleet-wide note.
  console.log(
    `Cores for ${TARGET_REQ_PER_S.toLocaleString('en-US')} req/s at these per-core figures (${TARGET_REQ_PER_S.toLocaleString('en-US')} ÷ req per CPU-second):`,
  );
  const cap: [CapacityTarget, Row | undefined][] = [
    ['Zonegate', zg],
    ['nginx', nginx],
    ['HAProxy', by(HAPROXY)],
  ];
  for (const [target, row] of cap) {
    if (row === undefined || !(row.perCpu > 0)) continue;
    console.log(
      `- ${target}: ${TARGET_REQ_PER_S.toLocaleString('en-US')} / ${num(row.perCpu, 0)} = ${Math.ceil(TARGET_REQ_PER_S / row.perCpu).toLocaleString('en-US')} cores`,
    );
    console.log(
      capacityInputLine({
        metric: 'http-req-per-cpu-s',
        target,
        value: Math.round(row.perCpu),
        source: `bench/http.ts "${row.name}"`,
      }),
    );
  }
  console.log('');
}

/* ---------------------------------------------------------------- tables 2 and 3: TLS, h2 */

interface TlsRows {
  readonly cert: CertType;
  readonly handshakes: Row[];
  readonly keepAlive: Row[];
  readonly h2: Row[];
}

async function tlsTables(rig: Rig, cert: CertType, withH2: boolean): Promise<TlsRows> {
  const files = makeCert(rig.dir, cert);
  /** `speaks`: the tables a server is in (the Node.js rows serve HTTP/1.1 only or h2 only). */
  const servers: {
    name: string;
    child: ChildProcess;
    port: number;
    note: string;
    speaks: 'h1' | 'h2' | 'both';
  }[] = [];
  /** A bench/_*.ts server alone on the proxy core(s). */
  const nodeServer = async (
    name: string,
    speaks: 'h1' | 'h2',
    note: string,
    file: string,
    ...args: string[]
  ): Promise<void> => {
    const port = await freePort();
    const [cmd, argv] = nodeRole(file, port, ...args);
    servers.push({
      name,
      child: await launch({ cmd, args: argv, port, cores: PROXY_CORES }),
      port,
      note,
      speaks,
    });
  };
  try {
    if (has('nginx')) {
      const port = await freePort();
      const child = await nginxServer(
        rig,
        'nginx-tls.conf.tmpl',
        port,
        { CERT: files.cert, KEY: files.key },
        `-${cert}`,
      );
      servers.push({ name: NGINX, child, port, note: 'ssl_session_cache off, no tickets', speaks: 'both' });
    }
    if (has('haproxy')) {
      const port = await freePort();
      const child = await haproxyServer(rig, 'haproxy-tls.cfg.tmpl', port, { PEM: files.pem }, `-${cert}`);
      servers.push({ name: HAPROXY, child, port, note: 'cachesize 0, no-tls-tickets', speaks: 'both' });
    }
    // What Node's TLS sockets alone cost (tickets on, as Zonegate's): not a proxy, and no h2.
    await nodeServer(
      NODE_TLS_FLOOR,
      'h1',
      'bare `tls.Server` + raw relay (bench/_raw-forwarder.ts)',
      '_raw-forwarder.ts',
      rig.upstream,
      files.cert,
      files.key,
    );
    if (withH2 && has('h2load')) {
      // What Node's HTTP/2 alone costs: it answers each stream itself (no upstream leg at all).
      await nodeServer(
        NODE_H2_FLOOR,
        'h2',
        'not a proxy: `http2.createSecureServer`, core stream API, a fixed answer (bench/_h2-floor.ts)',
        '_h2-floor.ts',
        files.cert,
        files.key,
      );
      // The simplest correct Node h2 proxy: the floor plus an upstream leg (undici), streaming.
      await nodeServer(
        H2_FORWARDER,
        'h2',
        '`Pool.request`, answer piped into the stream, no routing (bench/_h2-forwarder.ts)',
        '_h2-forwarder.ts',
        rig.upstream,
        files.cert,
        files.key,
      );
    }
    const port = await freePort();
    const zg = await zonegate(
      rig,
      `zonegate-tls-${cert}`,
      port,
      `{ name: web, protocol: https, port: ${port}, host: 127.0.0.1, tls: { cert: ${files.cert}, key: ${files.key} } }`,
      1,
    );
    servers.push({
      name: ZG_DEFAULT,
      child: zg.child,
      port,
      note: 'default config (access log on, to a file)',
      speaks: 'both',
    });
    const truncate = (): void => truncateSync(zg.log, 0);
    /** Each server as a target measured by `run` (on its port); the log emptied after each round. */
    const targets = (run: (port: number, sec: number) => Promise<Sample>, list = servers): Target[] =>
      list.map((s) => ({
        name: s.name,
        note: s.note,
        child: s.child,
        run: (sec: number) => run(s.port, sec),
        afterRound: truncate,
      }));
    const h1 = servers.filter((s) => s.speaks !== 'h2');
    const hs = !TABLES.has('tls') ? [] : await measure(`tls ${cert} handshakes`, targets(handshakes, h1));
    const ka = !TABLES.has('tls')
      ? []
      : await measure(
          `tls ${cert} keep-alive`,
          targets((port, sec) => wrk(`https://127.0.0.1:${port}/orders`, sec, rig.mixScript), h1),
        );
    const h2 =
      withH2 && has('h2load')
        ? await measure(
            `h2 ${cert}`,
            targets(
              (port, sec) => h2load(`https://127.0.0.1:${port}/orders`, sec, rig.cookie),
              servers.filter((s) => s.speaks !== 'h1'),
            ),
          )
        : [];
    return { cert, handshakes: hs, keepAlive: ka, h2 };
  } finally {
    for (const s of servers) await stop(s.child);
  }
}

function printTls(all: readonly TlsRows[]): void {
  if (all.length === 0) return;
  console.log(
    `TLS (TLS 1.3, X25519, certificates made at bench time): full handshakes/s with ${HANDSHAKE_CLIENTS} \`openssl s_time -new\` ` +
      `clients on core(s) ${LOAD_CORES} (no session cache, no tickets), and wrk -t1 -c${CONNECTIONS} over TLS keep-alive. ` +
      '"core busy" = the proxy\'s CPU-s ÷ the round\'s seconds: below ~0.9 the client, not the proxy, set the pace ' +
      '(ECDSA verification costs the client more than signing costs the server), so compare handshakes per CPU-second there.',
  );
  console.log('');
  const rows: string[][] = [];
  for (const t of all) {
    const nginxHs = t.handshakes.find((r) => r.name === NGINX);
    const nginxKa = t.keepAlive.find((r) => r.name === NGINX);
    for (const hs of t.handshakes) {
      const ka = t.keepAlive.find((r) => r.name === hs.name);
      rows.push([
        hs.name,
        CERT_LABEL[t.cert],
        num(hs.rps, 0),
        num(hs.cpu / SECONDS),
        num(hs.perCpu, 0),
        ratio(hs.perCpu, nginxHs?.perCpu),
        num(ka?.rps ?? NaN, 0),
        num(ka?.p99 ?? NaN),
        num(ka?.perCpu ?? NaN, 0),
        ratio(ka?.perCpu, nginxKa?.perCpu),
        ratio(ka?.p99, nginxKa?.p99),
      ]);
    }
  }
  console.log(
    markdown(
      [
        'target',
        'certificate',
        'handshakes/s',
        'core busy',
        'handshakes per CPU-s',
        'vs nginx',
        'TLS keep-alive req/s',
        'p99 ms',
        'req per CPU-s',
        'vs nginx',
        'p99 vs nginx',
      ],
      rows,
    ),
  );
  console.log('');
  for (const t of all) {
    const zg = t.handshakes.find((r) => r.name === ZG_DEFAULT);
    const nginx = t.handshakes.find((r) => r.name === NGINX);
    const zgKa = t.keepAlive.find((r) => r.name === ZG_DEFAULT);
    const nginxKa = t.keepAlive.find((r) => r.name === NGINX);
    const floor = t.handshakes.find((r) => r.name === NODE_TLS_FLOOR);
    const floorKa = t.keepAlive.find((r) => r.name === NODE_TLS_FLOOR);
    console.log(
      `Goal, ${CERT_LABEL[t.cert]}: handshakes ≥ 0.9× nginx per CPU-second: ${ratio(zg?.perCpu, nginx?.perCpu)} ` +
        `(per second: ${ratio(zg?.rps, nginx?.rps)}); TLS keep-alive ≥ 0.5× nginx per CPU-second: ${ratio(zgKa?.perCpu, nginxKa?.perCpu)}, ` +
        `p99 ${ratio(zgKa?.p99, nginxKa?.p99)} nginx's.`,
    );
    if (floor !== undefined)
      console.log(
        `Node.js floor (bare tls.Server, raw relay), ${CERT_LABEL[t.cert]}: ${ratio(floor.perCpu, nginx?.perCpu)} nginx's handshakes per CPU-second, ` +
          `Zonegate ${ratio(zg?.perCpu, floor.perCpu)} of it; keep-alive ${ratio(floorKa?.perCpu, nginxKa?.perCpu)} nginx's, Zonegate ${ratio(zgKa?.perCpu, floorKa?.perCpu)} of it.`,
      );
  }
  console.log('');
  const h2 = all.find((t) => t.h2.length > 0);
  if (h2 === undefined) return;
  const nginx = h2.h2.find((r) => r.name === NGINX);
  console.log(
    `h2 over TLS (ALPN h2, ${CERT_LABEL[h2.cert]}): h2load -t1 -c${H2_CLIENTS} -m${H2_STREAMS} on core(s) ${LOAD_CORES}, the signed cookie on every request; ` +
      'h2load reports the mean request time, not percentiles.',
  );
  console.log('');
  console.log(
    markdown(
      [
        'target',
        'req/s',
        'mean ms',
        'CPU-s',
        'req per CPU-s',
        'req/CPU-s vs nginx',
        'req/s vs nginx',
        'note',
      ],
      h2.h2.map((r) => [
        r.name,
        num(r.rps, 0),
        num(r.p50),
        num(r.cpu),
        num(r.perCpu, 0),
        ratio(r.perCpu, nginx?.perCpu),
        ratio(r.rps, nginx?.rps),
        r.note + (r.errors === '' ? '' : `; h2load: ${r.errors}`),
      ]),
    ),
  );
  console.log('');
  const zg = h2.h2.find((r) => r.name === ZG_DEFAULT);
  console.log(
    `Goal, h2: ≥ 0.5× nginx: ${ratio(zg?.perCpu, nginx?.perCpu)} per CPU-second, ${ratio(zg?.rps, nginx?.rps)} per second.`,
  );
  const h2Floor = h2.h2.find((r) => r.name === NODE_H2_FLOOR);
  if (h2Floor !== undefined)
    console.log(
      `Node.js floor (bare http2 server answering itself, no upstream): ${ratio(h2Floor.perCpu, nginx?.perCpu)} nginx's requests per CPU-second, ` +
        `Zonegate ${ratio(zg?.perCpu, h2Floor.perCpu)} of it.`,
    );
  const h2Fwd = h2.h2.find((r) => r.name === H2_FORWARDER);
  if (h2Fwd !== undefined)
    console.log(
      `Minimal h2 forwarder (the floor plus an undici upstream leg, answers streamed): ${ratio(h2Fwd.perCpu, nginx?.perCpu)} nginx's requests per CPU-second, ` +
        `Zonegate ${ratio(zg?.perCpu, h2Fwd.perCpu)} of it.`,
    );
  console.log('');
}

/* ---------------------------------------------------------------- main */

async function main(): Promise<void> {
  for (const tool of ['wrk', 'openssl'])
    if (!has(tool)) throw new Error(`${tool} is required (apt-get install ${tool})`);
  if (!has('nginx')) throw new Error('nginx is required: it is the upstream and the reference');
  const loadBefore = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'zg-bench-http-'));
  try {
    const upPort = await freePort();
    const upConf = template(dir, 'nginx-upstream.conf.tmpl', { DIR: dir, PORT: String(upPort) });
    const upstreamChild = await launch({
      cmd: 'nginx',
      args: ['-e', join(dir, 'nginx-upstream-error.log'), '-c', upConf, '-p', dir],
      port: upPort,
      cores: LOAD_CORES,
    });
    const upstream = `127.0.0.1:${upPort}`;

    // The example map, every zone's upstreams pointed at the bench upstream.
    const doc = parseYaml(
      readFileSync(join(ROOT, 'policies/examples/three-site-five-center.yaml'), 'utf8'),
    ) as {
      zones: Record<string, { upstreams?: { http?: { blue?: string[]; green?: string[] } } }>;
    };
    for (const z of Object.values(doc.zones))
      z.upstreams = { ...(z.upstreams ?? {}), http: { blue: [upstream], green: [upstream] } };
    writeFileSync(join(dir, 'map.json'), JSON.stringify(doc));

    const keyring = await CookieKeyring.create([{ id: 'k1', secret: SECRET }]);
    const cookie = await keyring.sign({ uid: UID, zone: 'rz03' });
    const mixScript = join(dir, 'mix.lua');
    writeFileSync(
      mixScript,
      [
        '-- Alternate the two ways a user is routed: the uid header and the signed zone cookie.',
        'local reqs = {}',
        'local i = 0',
        'function init(args)',
        `  reqs[1] = wrk.format("GET", nil, { ["x-ldc-uid"] = "${UID}" })`,
        `  reqs[2] = wrk.format("GET", nil, { ["cookie"] = "ldc=${cookie}" })`,
        'end',
        'function request()',
        '  i = i + 1',
        '  return reqs[(i % 2) + 1]',
        'end',
      ].join('\n'),
    );
    const rig: Rig = { dir, upstream, cookie, mixScript, compiled: build() };

    if (TABLES.has('http')) printHttp(await httpTable(rig, upstreamChild), loadBefore);
    const tls: TlsRows[] = [];
    if (TABLES.has('tls') || TABLES.has('h2')) {
      for (const [i, cert] of CERTS.entries())
        tls.push(await tlsTables(rig, cert, i === 0 && TABLES.has('h2')));
      printTls(tls);
    }
    await stop(upstreamChild);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Whatever way the bench ends, no process it started outlives it.
process.on('exit', killAll);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
await main();
