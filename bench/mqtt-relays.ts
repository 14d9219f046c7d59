/**
 * Processes of the MQTT benchmark (bench/mqtt.ts): the relays under test (`zonegate start` with
 * its default config, HAProxy in TCP mode), the load-generator children, CPU pinning and the
 * /proc readings (RSS, CPU time) the table is made of.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import {
  connect as netConnect,
  createServer as netCreateServer,
  type AddressInfo,
  type Socket,
} from 'node:net';
import { join } from 'node:path';
import { createServer as tlsCreateServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { GenCommand, GenReply } from './mqtt-gen.js';
import { sleep } from './mqtt-wire.js';
import { waitForPort } from '../src/lab/processes.js';
import { freePort, has } from './support.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** `taskset` exists and the machine has a core for the relay and one for the rest. */
export function canPin(cpus: number): boolean {
  return has('taskset') && cpus >= 2;
}

/** Pin a running process and all its threads to `cpu` (no-op when cpu is null). */
export function pin(pid: number | undefined, cpu: string | null): void {
  if (pid === undefined || cpu === null) return;
  spawnSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' });
}

/** Resident set size of a process, bytes (/proc; 0 when unreadable). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Two full GCs (SIGUSR2, the preloaded hook), then the process's RSS in bytes. */
async function gcSettledRss(pid: number): Promise<number> {
  for (let i = 0; i < 2; i++) {
    process.kill(pid, 'SIGUSR2');
    await sleep(300);
  }
  return rssBytes(pid);
}

export interface Relay {
  readonly name: string;
  readonly port: number;
  readonly tlsPort: number;
  readonly pid: number;
  /** Settle memory (Zonegate: two full GCs), then its RSS in bytes. */
  settledRss(): Promise<number>;
  stop(): Promise<void>;
}

/** Relay processes running now, so a bench stopped by a signal takes them along (killAllRelays). */
const running = new Set<ChildProcess>();

/** SIGKILL every relay process group still running (synchronous: safe in a signal handler). */
export function killAllRelays(): void {
  for (const child of running) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
  running.clear();
}

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      // Its own process group (detached): the whole group goes, nothing outlives the bench.
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  });
}

/** SIGUSR2 runs a full GC in the Zonegate process (preloaded; needs --expose-gc). */
const GC_HOOK = `data:text/javascript,${encodeURIComponent("process.on('SIGUSR2',()=>{globalThis.gc?.();});")}`;

/**
 * `zonegate start -c CONFIG` from source (tsx): the default config but for the listeners, the
 * map file and an admin port of its own. Logging at its defaults (info, every MQTT session's
 * access line) to a file. Pinned to `cpu` from its first instruction.
 */
export async function startZonegate(dir: string, tag: string, cpu: string | null): Promise<Relay> {
  const port = await freePort();
  const tlsPort = await freePort();
  const cfg = join(dir, `zonegate-${tag}.yaml`);
  const logFile = join(dir, `zonegate-${tag}.log`);
  writeFileSync(
    cfg,
    [
      'idc: hz-1',
      'listeners:',
      `  - { name: mqtt, protocol: mqtt, port: ${port}, host: 127.0.0.1 }`,
      `  - { name: mqtts, protocol: mqtts, port: ${tlsPort}, host: 127.0.0.1, tls: { cert: server.pem, key: server.key } }`,
      'zonemap: { file: map.json }',
      // The admin listener stays on (default) but on a free port, never 9901.
      'admin: { host: 127.0.0.1, port: 0 }',
      // Diagnostics only (e.g. "logging: { accessSampleRate: 0 }" to price the access log); the
      // table is made with the default config, so leave it unset for real runs.
      ...(process.env.ZG_BENCH_ZONEGATE_EXTRA_CONFIG ?? '').split('\n').filter((l) => l !== ''),
    ].join('\n'),
  );
  writeFileSync(logFile, '');
  const out = openSync(logFile, 'a');
  // ZG_BENCH_ZONEGATE_NODE_FLAGS: extra node flags for profiling, e.g. "--cpu-prof
  // --cpu-prof-dir=/tmp/prof" (the process then gets SIGTERM and time to write it at the end).
  const extra = (process.env.ZG_BENCH_ZONEGATE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const node = [
    process.execPath,
    '--expose-gc',
    ...extra,
    '--import',
    // Resolved here: the process runs in the temp dir, where `tsx` alone would not resolve.
    import.meta.resolve('tsx'),
    '--import',
    GC_HOOK,
    join(ROOT, 'src/cli/run.ts'),
    'start',
    '-c',
    cfg,
  ];
  const [cmd, ...args] = cpu === null ? node : ['taskset', '-c', cpu, ...node];
  const child = track(spawn(cmd as string, args, { cwd: dir, detached: true, stdio: ['ignore', out, out] }));
  closeSync(out);
  const deadline = Date.now() + 60_000;
  while (!readFileSync(logFile, 'utf8').includes('"msg":"gateway up"')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`zonegate did not start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await sleep(50);
  }
  const pid = child.pid as number;
  return {
    name: 'Zonegate',
    port,
    tlsPort,
    pid,
    settledRss: () => gcSettledRss(pid),
    stop: extra.length === 0 ? () => stopGroup(child) : () => stopGently(child),
  };
}

/** SIGTERM (the gateway drains and exits, writing a profile), SIGKILL after 20 s. */
async function stopGently(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => void stopGroup(child), 20_000);
  await exited;
  clearTimeout(timer);
}

/** HAProxy, one thread, TCP mode, routing by CONNECT client id like Zonegate (haproxy-mqtt.cfg.tmpl). */
export async function startHaproxy(
  dir: string,
  tag: string,
  cpu: string | null,
  brokers: readonly [string, string],
  maxconn: number,
): Promise<Relay> {
  const port = await freePort();
  const tlsPort = await freePort();
  const pem = join(dir, 'server-full.pem');
  writeFileSync(
    pem,
    readFileSync(join(dir, 'server.pem'), 'utf8') + readFileSync(join(dir, 'server.key'), 'utf8'),
  );
  const cfg = readFileSync(join(HERE, 'haproxy-mqtt.cfg.tmpl'), 'utf8')
    .replaceAll('{{PORT}}', String(port))
    .replaceAll('{{TLSPORT}}', String(tlsPort))
    .replaceAll('{{PEM}}', pem)
    .replaceAll('{{MAXCONN}}', String(maxconn))
    .replaceAll('{{RZ00}}', brokers[0])
    .replaceAll('{{RZ02}}', brokers[1]);
  const file = join(dir, `haproxy-${tag}.cfg`);
  writeFileSync(file, cfg);
  const hap = ['haproxy', '-db', '-f', file];
  const [cmd, ...args] = cpu === null ? hap : ['taskset', '-c', cpu, ...hap];
  const child = track(spawn(cmd as string, args, { detached: true, stdio: ['ignore', 'ignore', 'inherit'] }));
  try {
    const proc = { name: 'haproxy', child, output: () => '' };
    await waitForPort(proc, port, 10_000);
    await waitForPort(proc, tlsPort, 10_000);
  } catch (err) {
    await stopGroup(child);
    throw err;
  }
  const pid = child.pid as number;
  return {
    name: 'HAProxy',
    port,
    tlsPort,
    pid,
    async settledRss() {
      await sleep(600);
      return rssBytes(pid);
    },
    stop: () => stopGroup(child),
  };
}

/** One load-generator child process (bench/mqtt-gen.ts), pinned to the load cores. */
export class Gen {
  private readonly child: ChildProcess;
  private next = 1;
  private readonly waiting = new Map<number, (r: GenReply) => void>();
  readonly ready: Promise<void>;

  constructor(self: string, cpu: string | null) {
    this.child = fork(self, ['--role', 'gen'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    pin(this.child.pid, cpu);
    this.ready = new Promise((resolve) => {
      this.child.on('message', (r: GenReply) => {
        if (r.id === 0) {
          resolve();
          return;
        }
        this.waiting.get(r.id)?.(r);
        this.waiting.delete(r.id);
      });
    });
  }

  ask(cmd: GenCommand): Promise<GenReply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, ...cmd });
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/**
 * The floor under any Node.js MQTT relay: not a gateway. A bare `net.Server` (and a bare
 * `tls.Server` on a second port) that waits for each client's first bytes, opens a connection
 * to the broker, writes them and then pipes both ways. No parsing, no routing (every bench
 * client id is in shards 00-09: one broker), no session, no log, no metrics. Its rows show
 * what Node's sockets (and OpenSSL) cost per connect, per message and per idle connection, so
 * the table tells how much of Zonegate's cost is its own work and how much any Node relay pays.
 */
export function roleFloor(certDir: string, broker: string): void {
  const [host, port] = broker.split(':') as [string, string];
  const relay = (client: Socket): void => {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    client.once('data', (first: Buffer) => {
      const up = netConnect({ host, port: Number(port), noDelay: true });
      up.on('error', () => undefined);
      up.write(first);
      client.pipe(up);
      up.pipe(client);
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
    });
  };
  const plain = netCreateServer(relay);
  const tls = tlsCreateServer(
    { cert: readFileSync(join(certDir, 'server.pem')), key: readFileSync(join(certDir, 'server.key')) },
    relay,
  );
  process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
  plain.listen(0, '127.0.0.1', () =>
    tls.listen(0, '127.0.0.1', () =>
      process.send?.({
        port: (plain.address() as AddressInfo).port,
        tlsPort: (tls.address() as AddressInfo).port,
      }),
    ),
  );
}

/** The Node.js floor relay (roleFloor) in a child process pinned to `cpu`, forwarding to `broker`. */
export async function startFloor(
  self: string,
  certDir: string,
  broker: string,
  cpu: string | null,
): Promise<Relay> {
  const child = track(
    fork(self, ['--role', 'floor', '--certs', certDir, '--broker', broker], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  pin(child.pid, cpu);
  const ports = await new Promise<{ port: number; tlsPort: number }>((resolve, reject) => {
    child.once('message', (m: { port: number; tlsPort: number }) => resolve(m));
    child.once('exit', () => reject(new Error('Node.js floor relay did not start')));
  });
  const pid = child.pid as number;
  return {
    name: 'Node.js floor',
    port: ports.port,
    tlsPort: ports.tlsPort,
    pid,
    settledRss: () => gcSettledRss(pid),
    // Not detached (no group of its own): stopGroup falls back to killing the child itself.
    stop: () => stopGroup(child),
  };
}
