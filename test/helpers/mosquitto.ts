/**
 * Real mosquitto brokers for integration tests, one per zone, each on its own ephemeral port
 * with a generated config in a temp dir (never port 1883).
 *
 * Every broker started here is tracked; a synchronous `exit` hook SIGKILLs whatever a failing
 * test left behind, so no mosquitto outlives the test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, track, untrack } from './child-processes.js';
import { sleep } from './wait.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';
/**
 * The `exit` hook does not run when the test process is killed by a signal (a runner timeout,
 * Ctrl-C). A detached shell per broker outlives it: once this process is gone it kills the
 * broker (only a process whose command line still names this broker's own temp config, never
 * a recycled PID) and removes that temp dir. It ends by itself when the broker does.
 */
function watchdog(brokerPid: number, conf: string): void {
  const script =
    'n=$1; m=$2; c=$3; alive() { tr "\\0" " " < /proc/$m/cmdline 2>/dev/null | grep -qF -- "$c"; }; ' +
    'while kill -0 "$n" 2>/dev/null && alive; do sleep 1; done; ' +
    'if alive; then kill -9 "$m"; rm -rf "${c%/mosquitto.conf}"; fi';
  const w = spawn(
    'sh',
    ['-c', script, 'zg-mosquitto-watchdog', String(process.pid), String(brokerPid), conf],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  w.on('error', () => undefined);
  w.unref();
}

export { freePort } from './child-processes.js';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  readonly port: number;
  /** `127.0.0.1:PORT`, the form zone map upstreams use. */
  readonly address: string;
  readonly pid: number | undefined;
  /** Everything the broker logged so far (stdout + stderr). */
  log(): string;
  /** SIGTERM, wait for exit (SIGKILL after 2 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Extra lines appended to the generated config. */
  readonly extraConfig?: readonly string[];
  /** Give up when the broker does not accept connections within this time. */
  readonly startTimeoutMs?: number;
  /** Listen on this port (a broker brought back where one was stopped); default a free one. */
  readonly port?: number;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Start one mosquitto on a free 127.0.0.1 port and wait until it accepts connections. A port
 * taken between probing and binding (parallel starts) is retried with another one.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  if (options.port !== undefined) return startOnce(options, options.port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(options: MosquittoOptions, port: number): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'zg-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'max_inflight_messages 0',
      'max_queued_messages 100000',
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const collect = (d: Buffer): void => {
    if (output.length < 64 * 1024) output += d.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', () => {
    // reported through the start timeout below
  });
  if (child.pid !== undefined) watchdog(child.pid, conf);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGTERM');
    await waitExit(child, 2000);
    untrack(child);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 5000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      const message = `mosquitto exited with ${child.exitCode} at start: ${output}`;
      throw /in use/i.test(output) ? new PortTakenError(message) : new Error(message);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mosquitto did not accept on port ${port}: ${output}`);
    }
    await sleep(20);
  }
  return { port, address: `127.0.0.1:${port}`, pid: child.pid, log: () => output, stop };
}

/** Start `count` brokers in parallel; on any failure the ones already started are stopped. */
export async function startMosquittos(count: number, options: MosquittoOptions = {}): Promise<Mosquitto[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => startMosquitto(options)));
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(ok.map((m) => m.stop()));
    throw failed.reason;
  }
  return ok;
}
