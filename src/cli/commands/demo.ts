import { UsageError } from '../../core/errors.js';
import type { DemoPort } from '../../gateway/index.js';
import { flag, optionalString } from '../../core/args.js';
import type { Command } from '../command.js';

/** The port a flag asks for, or the default (which may fall back to a free one when taken). */
function port(
  v: string | undefined,
  name: string,
  fallback: number,
  key: DemoPort,
  defaults: Set<DemoPort>,
): number {
  if (v === undefined) {
    defaults.add(key);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${name} must be a port number 0-65535`);
  return n;
}

export const demo: Command = {
  name: 'demo',
  summary:
    'Run the example three-site five-center map with in-process upstreams and MQTT brokers (no Redis); ' +
    'prints curl, MQTT and drill lines to try. --drill runs the drill by itself and narrates it.',
  // The admin listener (/metrics, /healthz) is always on 127.0.0.1; 9901 is the config default.
  usage:
    'zonegate demo [--host 127.0.0.1] [--port 8080] [--tls-port 8443] [--mqtt-port 1883] [--admin-port 9901] [--drill]\n' +
    '  a default port that is taken is replaced by a free one (the output says so); a port given by flag is not',
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'tls-port': { type: 'string' },
    'mqtt-port': { type: 'string' },
    'admin-port': { type: 'string' },
    drill: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const drill = flag(values, 'drill');
    // Logs (and the access log of the curl lines) go to stderr: stdout is for the lines to try.
    // The drill narrates on stdout; the gateway's info lines would bury it.
    const { createLogger } = await import('../../core/logger.js');
    const { startDemo } = await import('../../gateway/index.js');
    const logger = createLogger({ level: drill ? 'warn' : 'info' }, process.stderr);
    let drained!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (drained = resolve));
    const defaults = new Set<DemoPort>();
    const d = await startDemo({
      host: optionalString(values, 'host') ?? '127.0.0.1',
      httpPort: port(optionalString(values, 'port'), 'port', 8080, 'http', defaults),
      httpsPort: port(optionalString(values, 'tls-port'), 'tls-port', 8443, 'https', defaults),
      mqttPort: port(optionalString(values, 'mqtt-port'), 'mqtt-port', 1883, 'mqtt', defaults),
      adminPort: port(optionalString(values, 'admin-port'), 'admin-port', 9901, 'admin', defaults),
      fallback: defaults,
      logger,
      exit: drained,
    });
    if (drill) {
      io.out(d.header);
      let code: number;
      try {
        const { runDemoDrill } = await import('../demo-drill.js');
        code = await runDemoDrill(d, io);
      } finally {
        await d.close();
      }
      return code;
    }
    io.out(d.tryThis);
    const code = await exited;
    // The drain stopped the listeners; this closes the rest, stops the upstreams and brokers and removes the temp folder.
    await d.close();
    return code;
  },
};
