import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

/**
 * Starts a small control-plane server (the admin listener, the drill console): probes and
 * operators must not pile up behind slow clients, so the header and request timers are short,
 * and every socket is tracked so close() can cut what is still open. Resolves once listening.
 */
export async function listenTracked(
  server: Server | HttpsServer,
  port: number,
  host: string,
): Promise<Set<Socket>> {
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return sockets;
}
