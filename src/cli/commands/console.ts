import { fileURLToPath } from 'node:url';
import { UsageError } from '../../core/errors.js';
import { loadConfigFile } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { startConsoleServer } from '../../console/index.js';
import {
  DEFAULT_MAX_MOVE_PERCENT,
  STORE_OPTIONS,
  STORE_USAGE,
  listOption,
  openStoreFrom,
} from '../../drill/index.js';
import { optionalString } from '../../core/args.js';
import type { Command } from '../command.js';

/** The built page: dist/console-web both from src/ (tsx) and from dist/ (installed). */
const ASSETS_DIR = fileURLToPath(new URL('../../../dist/console-web/', import.meta.url));

function numberOption(
  v: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a number from ${min} to ${max} (got '${v}')`);
  return n;
}

export const consoleCommand: Command = {
  name: 'console',
  summary:
    'Serve the drill console: topology, shard grid, fleet and live metrics; drill changes with their dry run.',
  usage:
    `zonegate console ${STORE_USAGE} [--host 127.0.0.1] [--port 9902] [--gateways URL,...]\n` +
    '  [--token-file FILE] [--tls-cert FILE --tls-key FILE [--client-ca FILE]] [--refresh-ms 1000]\n' +
    '  [--stale-ms 15000] [--max-move-percent N]\n' +
    '  --gateways: admin URLs of gateways to scrape for /metrics\n' +
    '  --token-file: the admin token that allows changes (default: admin.tokenFile of -c CONFIG)',
  options: {
    ...STORE_OPTIONS,
    host: { type: 'string' },
    port: { type: 'string' },
    gateways: { type: 'string' },
    'token-file': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'refresh-ms': { type: 'string' },
    'stale-ms': { type: 'string' },
    'max-move-percent': { type: 'string' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const port = numberOption(optionalString(values, 'port'), 'port', 9902, 0, 65535);
    if (!Number.isInteger(port)) throw new UsageError('--port must be a whole number');
    const gateways = listOption(values, 'gateways') ?? [];
    for (const g of gateways) {
      if (!/^https?:\/\/[^/]+\/?$/.test(g))
        throw new UsageError(`--gateways wants admin base URLs like http://127.0.0.1:9901 (got '${g}')`);
    }
    const cert = optionalString(values, 'tls-cert');
    const key = optionalString(values, 'tls-key');
    const ca = optionalString(values, 'client-ca');
    if ((cert === undefined) !== (key === undefined))
      throw new UsageError('--tls-cert and --tls-key go together');
    if (ca !== undefined && cert === undefined)
      throw new UsageError('--client-ca needs --tls-cert and --tls-key');
    const configFile = optionalString(values, 'config');
    const tokenFile =
      optionalString(values, 'token-file') ??
      (configFile === undefined ? undefined : (await loadConfigFile(configFile)).admin.tokenFile) ??
      null;
    const refreshMs = numberOption(optionalString(values, 'refresh-ms'), 'refresh-ms', 1000, 100, 60_000);
    const staleMs = numberOption(optionalString(values, 'stale-ms'), 'stale-ms', 15_000, 1, 3_600_000);
    const maxMovePercent = numberOption(
      optionalString(values, 'max-move-percent'),
      'max-move-percent',
      DEFAULT_MAX_MOVE_PERCENT,
      0,
      100,
    );
    const logger = createLogger({ level: 'info' }, process.stderr);
    const store = await openStoreFrom(values);
    let server;
    try {
      server = await startConsoleServer({
        store,
        host: optionalString(values, 'host') ?? '127.0.0.1',
        port,
        tokenFile,
        tls:
          cert === undefined || key === undefined ? null : { cert, key, ...(ca === undefined ? {} : { ca }) },
        gateways,
        refreshMs,
        staleMs,
        maxMovePercent,
        assetsDir: ASSETS_DIR,
        logger,
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    io.out(
      `console: ${server.url}/ on ${store.description}; ` +
        (tokenFile === null && ca === undefined
          ? 'read-only (no --token-file, no --client-ca)'
          : 'changes need the admin token or a client certificate'),
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    await store.close();
    return 0;
  },
};
