/**
 * A small delaying TCP relay: what a WAN link between IDCs adds, on loopback (this machine's
 * kernel has no netem). Every chunk is held `delayMs` in each direction, in order; back
 * pressure is passed through (a full socket pauses the other side).
 */
import net from 'node:net';

export interface Relay {
  readonly address: string;
  close(): Promise<void>;
}

function pipeDelayed(from: net.Socket, to: net.Socket, delayMs: number): void {
  let pending = 0;
  from.on('data', (chunk: Buffer) => {
    pending++;
    setTimeout(() => {
      pending--;
      if (!to.destroyed && !to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }, delayMs);
  });
  from.on('end', () => {
    // Half-close after the delayed data has gone out.
    const finish = (): void => {
      if (pending > 0) setTimeout(finish, delayMs);
      else to.end();
    };
    setTimeout(finish, delayMs);
  });
}

export async function startRelay(target: { host: string; port: number }, delayMs: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => {
      sockets.delete(client);
      upstream.end();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.end();
    });
    pipeDelayed(client, upstream, delayMs);
    pipeDelayed(upstream, client, delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
