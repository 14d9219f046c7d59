import { UsageError } from '../../core/errors.js';
import { optionalString, requiredString } from '../../core/args.js';
import type { Command } from '../command.js';

function workersOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 256)
    throw new UsageError('--workers must be 0 (one per core) to 256');
  return n;
}

export const start: Command = {
  name: 'start',
  summary:
    'Run the gateway with a config file (SIGHUP reloads certificates, SIGTERM drains: /healthz fails, then listeners close).',
  usage: 'zonegate start -c CONFIG [--workers N]',
  options: { config: { type: 'string', short: 'c' }, workers: { type: 'string', short: 'w' } },
  allowPositionals: false,
  async run({ values }) {
    // An invalid config throws InvalidConfigError: main() prints every problem and exits 2.
    const { loadConfigFile } = await import('../../core/config.js');
    const { createLogger, logDestination } = await import('../../core/logger.js');
    const { runGatewayProcess } = await import('../../gateway/process.js');
    const config = await loadConfigFile(requiredString(values, 'config'));
    const workers = workersOption(optionalString(values, 'workers'));
    // Logs go to stderr: stdout stays for results, like every other command. Buffered
    // asynchronous writes (general and access log share them), flushed before exit.
    const logger = createLogger(config.logging, logDestination(2));
    // The whole process (stages, admin listener, metrics, drain on SIGTERM, --workers) is
    // composed in src/gateway/process.ts.
    return new Promise<number>((resolve, reject) => {
      runGatewayProcess({
        config,
        ...(workers === undefined ? {} : { workers }),
        logger,
        exit: (code) => {
          resolve(code);
          // The drain is over; a handle someone forgot to close must not keep us alive.
          setTimeout(() => process.exit(code), 1000).unref();
        },
      }).catch(reject);
    });
  },
};
