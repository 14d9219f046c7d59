/** curl as the outside client: real TLS, HTTP/2, cookie jars and PROXY headers, as users run it. */
import { spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { sleep, waitFor } from './wait.js';

export interface CurlResult {
  /** curl's exit code: 0 ok; 35 TLS handshake failed, 56 receive failure, 52 empty reply … */
  readonly exitCode: number;
  readonly status: number;
  /** e.g. "1.1" or "2" */
  readonly httpVersion: string;
  /** Lower-cased names; repeated headers joined with ", " except set-cookie (kept as a list). */
  readonly headers: Readonly<Record<string, string>>;
  readonly setCookies: readonly string[];
  readonly body: string;
  readonly stderr: string;
}

export function curl(args: readonly string[], timeoutMs = 10_000): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '-i', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      let text = Buffer.concat(out).toString('utf8');
      let status = 0;
      let httpVersion = '';
      const headers: Record<string, string> = {};
      const setCookies: string[] = [];
      // Skip interim 1xx blocks; the last header block is the response's.
      for (;;) {
        const end = text.indexOf('\r\n\r\n');
        if (!text.startsWith('HTTP/') || end < 0) break;
        const lines = text.slice(0, end).split('\r\n');
        const m = /^HTTP\/([\d.]+) (\d{3})/.exec(lines[0] ?? '');
        text = text.slice(end + 4);
        if (m === null) break;
        httpVersion = m[1]!;
        status = Number(m[2]);
        if (status >= 200) {
          for (const l of lines.slice(1)) {
            const i = l.indexOf(':');
            if (i < 0) continue;
            const k = l.slice(0, i).trim().toLowerCase();
            const v = l.slice(i + 1).trim();
            if (k === 'set-cookie') setCookies.push(v);
            headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
          }
          break;
        }
      }
      resolve({ exitCode: code ?? -1, status, httpVersion, headers, setCookies, body: text, stderr });
    });
  });
}

/** What a steady load saw: requests answered 200, refused at connect, and anything else. */
export interface SteadyLoad {
  readonly ok: number;
  /** Refused at connect: never reached the gateway (LVS would have sent it elsewhere). */
  readonly refused: number;
  /** Every request that reached the gateway and did not get a 200: must stay empty in a drain. */
  readonly lost: readonly string[];
  /** When the last 200 arrived (Date.now()). */
  readonly lastOkAt: number;
  /** Stops sending, waits for the requests in flight, closes the keep-alive pool. */
  stop(): Promise<void>;
}

/**
 * `clients` keep-alive clients sending back to back until stopped. Keep-alive is the point: the
 * dangerous case in a drain is a request sent on a reused socket the server closes.
 */
export function steadyLoad(url: string, clients: number, headers: Record<string, string> = {}): SteadyLoad {
  const agent = new Agent({ connections: clients, keepAliveTimeout: 60_000 });
  const state = { ok: 0, refused: 0, lost: [] as string[], lastOkAt: 0, stopped: false };
  const client = async (): Promise<void> => {
    while (!state.stopped) {
      try {
        const res = await request(url, { dispatcher: agent, headers });
        await res.body.text();
        if (res.statusCode === 200) {
          state.ok++;
          state.lastOkAt = Date.now();
        } else state.lost.push(`status ${res.statusCode}`);
      } catch (err) {
        const code = (err as { code?: string }).code ?? String(err);
        if (code === 'ECONNREFUSED') {
          state.refused++;
          // Pacing: a closed listener refuses at once; do not spin on it.
          await sleep(20);
        } else state.lost.push(code);
      }
    }
  };
  const running = Array.from({ length: clients }, () => client());
  return {
    get ok() {
      return state.ok;
    },
    get refused() {
      return state.refused;
    },
    get lost() {
      return state.lost;
    },
    get lastOkAt() {
      return state.lastOkAt;
    },
    async stop() {
      state.stopped = true;
      await Promise.all(running);
      await agent.close();
    },
  };
}

/** Polls `GET /healthz` until it answers 503; the time it did, or 0 when not within `withinMs`. */
export async function waitForHealthzFailure(adminUrl: string, withinMs = 2000): Promise<number> {
  const failed = async (): Promise<boolean> => {
    const res = await request(`${adminUrl}/healthz`).catch(() => null);
    await res?.body.text();
    return res?.statusCode === 503;
  };
  return waitFor('/healthz to answer 503', failed, withinMs, 10).then(
    () => Date.now(),
    () => 0,
  );
}
