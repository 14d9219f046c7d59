/** Small helpers the benchmarks that start peers (nginx, HAProxy, upstreams) share. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCert } from '../src/certs/index.js';

/** Whether a peer's binary is installed (its rows are skipped, and the table says so, if not). */
export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * A loopback port free right now, for a child process that cannot report the one it bound: the
 * lab's copy, which the tests use too (it also never hands out 6379 or 1883).
 */
export { freePort } from '../src/lab/processes.js';

/**
 * A fresh CA's server certificate for `localhost` / 127.0.0.1, written as `server.pem` and
 * `server.key` (0600) in dir: what the TLS listeners of a bench serve.
 */
export async function writeServerCert(dir: string, caName: string): Promise<{ cert: string; key: string }> {
  const ca = await createCa(caName);
  const server = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  writeFileSync(files.cert, server.certPem);
  writeFileSync(files.key, server.keyPem, { mode: 0o600 });
  return files;
}

/** CPU seconds (user + system, every thread) a process has used so far (/proc; 0 when unreadable). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}
