import type { Gateway, GatewayLog } from './gateway.js';

/**
 * Keep a started gateway running: SIGHUP reloads certificates, SIGTERM / SIGINT close it
 * gracefully (a second SIGINT exits at once). Resolves with the exit code once closed.
 */
export function runUntilSignal(gw: Gateway, log: GatewayLog): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onHup = (): void => {
      gw.reload().then(
        () => log.info('reloaded certificates (SIGHUP)'),
        (err: Error) => log.error('reload failed; previous certificates stay in use', { error: err.message }),
      );
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        if (signal === 'SIGINT') resolve(1);
        return;
      }
      stopping = true;
      log.info(`${signal}: closing (in-flight requests finish first)`);
      gw.close().then(
        () => {
          cleanup();
          resolve(0);
        },
        (err: Error) => {
          log.error('close failed', { error: err.message });
          cleanup();
          resolve(1);
        },
      );
    };
    const cleanup = (): void => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
}
