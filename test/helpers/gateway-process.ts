/** `zonegate start` / `zonegate demo` as a child process, the way an operator runs them. */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnZonegate } from './cli.js';
import { exampleDoc } from './maps.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** Lines the gateway wrote to stdout / stderr so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching, or rejects after timeoutMs / on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Like waitFor, for the first `count` matching lines (e.g. one "gateway up" per worker). */
  waitForAll(pattern: RegExp, count: number, timeoutMs?: number): Promise<RegExpExecArray[]>;
  /** The exit code, once the child has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `zonegate ARGS` from source through the tracked spawn (killed if the test process ends first). */
export function spawnGateway(args: readonly string[]): GatewayProcess {
  return watchLines(spawnZonegate(args));
}

/** Line-by-line watch of any child started with piped stdout and stderr (a demo, mosquitto_sub). */
export function watchLines(child: ChildProcess): GatewayProcess {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const feed = (into: string[]) => {
    let partial = '';
    return (d: Buffer): void => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      into.push(...lines);
      for (const w of waiters) w();
    };
  };
  child.stdout?.on('data', feed(stdout));
  child.stderr?.on('data', feed(stderr));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  return {
    child,
    stdout,
    stderr,
    exited: exit,
    async waitFor(pattern, timeoutMs = 15_000) {
      const [m] = await this.waitForAll(pattern, 1, timeoutMs);
      return m!;
    },
    waitForAll(pattern, count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found: RegExpExecArray[] = [];
          for (const l of [...stdout, ...stderr]) {
            const m = pattern.exec(l);
            if (m !== null) found.push(m);
          }
          if (found.length >= count) {
            done();
            resolve(found.slice(0, count));
            return;
          }
          if (exited !== undefined) {
            done();
            reject(new Error(`gateway exited (${exited}) before ${pattern}: ${stderr.join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timeout waiting for ${pattern}; stderr: ${stderr.join('\n')}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (exited !== undefined) return exited;
      child.kill(signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exit;
      clearTimeout(kill);
      return code;
    },
  };
}

/** A `zonegate start` child on a generated config, with where to reach it. */
export interface StartedGateway extends GatewayProcess {
  /** `http://127.0.0.1:PORT` of the HTTP listener `web`. */
  readonly http: string;
  /** `http://127.0.0.1:PORT` of the admin listener. */
  readonly admin: string;
  /** `mqtt://127.0.0.1:PORT` of the MQTT listener `mqtt`. */
  readonly mqtt: string;
  /** The config file it runs (rewrite the map file next to it to push a map). */
  readonly mapFile: string;
}

export interface StartOptions {
  /** A temporary folder for the config, map and token files. */
  readonly dir: string;
  /** `host:port` of the HTTP upstream that stands in for every zone and colour. */
  readonly upstream: string;
  /** `host:port` of the MQTT broker for every zone (default: the HTTP upstream's address, unused). */
  readonly broker?: string;
  readonly workers?: number;
  /** Top-level config sections merged over the defaults below (`drain`, `admin`, `timeouts`…). */
  readonly config?: Record<string, unknown>;
  /** `--workers` > 1 needs fixed ports (the workers share them); one process can use port 0. */
  readonly ports?: { readonly http: number; readonly mqtt: number };
}

/**
 * The real `zonegate start -c CONFIG [--workers N]` (CLI → src/gateway/process.ts) on the example
 * map with every zone pointing at `upstream`. Resolves once every process logged that it is up
 * (one "gateway up" per worker, "primary up" for the primary), reading the bound ports from
 * those log lines.
 */
export async function startGatewayProcess(o: StartOptions): Promise<StartedGateway> {
  const workers = o.workers ?? 1;
  const doc = exampleDoc();
  for (const z of Object.values(doc.zones)) {
    z.upstreams = { http: { blue: [o.upstream], green: [o.upstream] }, mqtt: [o.broker ?? o.upstream] };
  }
  // Peers on TEST-NET-1, so the test client is no trusted peer gateway (see test/http/harness.ts).
  for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
  const mapFile = join(o.dir, 'map.json');
  await writeFile(mapFile, JSON.stringify(doc));
  const config = {
    idc: 'hz-1',
    listeners: [
      { name: 'web', protocol: 'http', port: o.ports?.http ?? 0, host: '127.0.0.1' },
      { name: 'mqtt', protocol: 'mqtt', port: o.ports?.mqtt ?? 0, host: '127.0.0.1' },
    ],
    zonemap: { file: mapFile },
    upstream: { healthCheck: { enabled: false } },
    admin: { host: '127.0.0.1', port: 0 },
    // "gateway up" / "primary up" carry the bound ports: info is the level that logs them.
    logging: { level: 'info' },
    ...o.config,
  };
  const path = join(o.dir, `config-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify(config));
  const gw = spawnGateway(['start', '-c', path, '--workers', String(workers)]);
  const ups = await gw.waitForAll(/"msg":"gateway up"/, workers, 30_000);
  const upLine = workers > 1 ? (await gw.waitFor(/"msg":"primary up"/, 30_000)).input : ups[0]!.input;
  const up = JSON.parse(upLine) as { admin?: string };
  const listeners = (JSON.parse(ups[0]!.input) as { listeners: { name: string; url: string }[] }).listeners;
  const url = (name: string): string => listeners.find((l) => l.name === name)?.url ?? '';
  return { ...gw, http: url('web'), mqtt: url('mqtt'), admin: up.admin ?? '', mapFile };
}

/** Sum of every sample of `name` in a /metrics text whose label set contains all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}
