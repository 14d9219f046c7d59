import { UsageError } from '../../core/errors.js';
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
  // The admin listener (/metrics, /healthz) is always on 127.0.0.1; 9901 is the config default.
  usage: 'zonegate demo [--host 127.0.0.1] [--port 8080] [--tls-port 8443] [--admin-port 9901]',
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'tls-port': { type: 'string' },
    'admin-port': { type: 'string' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    // Logs (and the access log of the curl lines) go to stderr: stdout is for the lines to try.
    const { createLogger } = await import('../../core/logger.js');
    const { startDemo } = await import('../../gateway/index.js');
    const logger = createLogger({ level: 'info' }, process.stderr);
    let drained!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (drained = resolve));
    const d = await startDemo({
      host: optionalString(values, 'host') ?? '127.0.0.1',
      httpPort: port(optionalString(values, 'port'), 'port', 8080),
      httpsPort: port(optionalString(values, 'tls-port'), 'tls-port', 8443),
      adminPort: port(optionalString(values, 'admin-port'), 'admin-port', 9901),
      logger,
      exit: drained,
    });
    io.out(d.tryThis);
    const code = await exited;
    // The drain stopped the listeners; this closes the rest, stops the upstreams and removes the temp folder.
    await d.close();
    return code;
  },
};
