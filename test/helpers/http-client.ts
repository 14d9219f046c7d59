/** curl as the outside client: real TLS, HTTP/2, cookie jars and PROXY headers, as users run it. */
import { spawn } from 'node:child_process';

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
