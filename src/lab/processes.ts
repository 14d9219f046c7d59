/**
 * The lab's child processes: redis-server, mosquitto and gateways. Each one is started in a
 * process group of its own (detached), so stopping it stops whatever it started too; stopAll
 * signals exactly the groups this lab created, never anything found by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

export interface LabProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it wrote (capped), for the error when it fails to start. */
  output(): string;
}

const OUTPUT_CAP = 64 * 1024;

export class ProcessGroups {
  private readonly live = new Set<LabProcess>();

  spawn(name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): LabProcess {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    let out = '';
    const keep = (d: Buffer): void => {
      if (out.length < OUTPUT_CAP) out += d.toString('utf8');
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}\n`)));
    const p: LabProcess = { name, child, output: () => out };
    this.live.add(p);
    child.once('exit', () => this.live.delete(p));
    return p;
  }

  /** SIGTERM to every group, SIGKILL to what is left after graceMs. */
  async stopAll(graceMs = 5000): Promise<void> {
    const all = [...this.live];
    const exits = all.map((p) =>
      p.child.exitCode !== null || p.child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => p.child.once('exit', () => r())),
    );
    for (const p of all) signalGroup(p.child, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const p of all) signalGroup(p.child, 'SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /** Synchronous last resort for process exit: SIGKILL every group still running. */
  killAllNow(): void {
    for (const p of this.live) signalGroup(p.child, 'SIGKILL');
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Negative pid: the process group this lab created for the child.
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** A free TCP port on 127.0.0.1 (never the standard Redis / MQTT ports other people use). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        const p = typeof a === 'object' && a !== null ? a.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 6379 && port !== 1883 && port !== 0) return port;
  }
}

/** Resolves once something accepts on port, or rejects naming the process and its output. */
export async function waitForPort(p: LabProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`${p.name} exited before listening on ${port}:\n${p.output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${p.name} did not listen on ${port} within ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedis(groups: ProcessGroups, dir: string): Promise<{ url: string; port: number }> {
  const port = await freePort();
  const p = groups.spawn('redis-server', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ]);
  await waitForPort(p, port, 10_000);
  return { url: `redis://127.0.0.1:${port}`, port };
}

export async function startMosquitto(groups: ProcessGroups, dir: string, name: string): Promise<string> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${name}.conf`);
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\n`,
  );
  const p = groups.spawn(`mosquitto ${name}`, 'mosquitto', ['-c', conf]);
  await waitForPort(p, port, 10_000);
  return `127.0.0.1:${port}`;
}
