import { UsageError } from '../../core/errors.js';
import { jsonLineLog, runUntilSignal, startDemo } from '../../gateway/index.js';
import { optionalString } from '../args.js';
import type { Command } from '../command.js';

function port(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${name} must be a port number 0-65535`);
  return n;
}

export const demo: Command = {
  name: 'demo',
  summary:
    'Run the example three-site five-center map with in-process upstreams (no Redis); prints curl lines to try.',
  usage: 'zonegate demo [--host 127.0.0.1] [--port 8080] [--tls-port 8443]',
  options: { host: { type: 'string' }, port: { type: 'string' }, 'tls-port': { type: 'string' } },
  allowPositionals: false,
  async run({ values }, io) {
    const log = jsonLineLog(io.err);
    const d = await startDemo({
      host: optionalString(values, 'host') ?? '127.0.0.1',
      httpPort: port(optionalString(values, 'port'), 'port', 8080),
      httpsPort: port(optionalString(values, 'tls-port'), 'tls-port', 8443),
      log,
    });
    io.out(d.tryThis);
    const code = await runUntilSignal(d.gateway, log);
    // The gateway is closed already (close is idempotent); this stops the upstreams and removes the temp folder.
    await d.close();
    return code;
  },
};
