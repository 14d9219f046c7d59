/**
 * In-process stand-ins for each zone's blue and green upstreams: they answer with their zone
 * and colour so a human (the demo) or a test can see where a request landed. `/login?uid=X`
 * answers with `x-ldc-uid: X`, which makes the gateway set the zone cookie.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Colour, ZoneMapDoc } from '../zonemap/index.js';

export interface DemoUpstreams {
  /** The map with every zone's http upstreams pointed at the servers started here. */
  readonly doc: ZoneMapDoc;
  /** "zone/colour" → "127.0.0.1:port" */
  readonly addresses: ReadonlyMap<string, string>;
  /** Requests served, by "zone/colour". */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** What a demo upstream says about a request (the JSON body). */
export interface DemoAnswer {
  readonly zone: string;
  readonly colour: Colour;
  readonly uid: string | null;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

function answer(zone: string, colour: Colour, hits: Map<string, number>) {
  const key = `${zone}/${colour}`;
  return (req: IncomingMessage, res: ServerResponse): void => {
    hits.set(key, (hits.get(key) ?? 0) + 1);
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const login = url.pathname.endsWith('/login') ? url.searchParams.get('uid') : null;
    // Step 4 of the first visit: the application names the user; the gateway turns it into the cookie.
    if (login !== null && login !== '') headers['x-ldc-uid'] = login;
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body: DemoAnswer & { bodyBytes: number } = {
        zone,
        colour,
        uid: (req.headers['x-ldc-uid'] as string | undefined) ?? null,
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: req.headers,
        bodyBytes: size,
      };
      const text = JSON.stringify(body) + '\n';
      headers['content-length'] = String(Buffer.byteLength(text));
      res.writeHead(200, headers).end(text);
    });
  };
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startDemoUpstreams(doc: ZoneMapDoc, host = '127.0.0.1'): Promise<DemoUpstreams> {
  const copy = structuredClone(doc) as Mutable<ZoneMapDoc>;
  const servers: Server[] = [];
  const addresses = new Map<string, string>();
  const hits = new Map<string, number>();
  for (const [name, zone] of Object.entries(copy.zones)) {
    const http: { blue: string[]; green: string[] } = { blue: [], green: [] };
    for (const colour of ['blue', 'green'] as const) {
      const server = createServer({ keepAliveTimeout: 60_000 }, answer(name, colour, hits));
      servers.push(server);
      const port = await listen(server, host);
      const addr = `${host}:${port}`;
      addresses.set(`${name}/${colour}`, addr);
      http[colour].push(addr);
    }
    zone.upstreams = { ...(zone.upstreams ?? {}), http };
  }
  return {
    doc: copy,
    addresses,
    hits,
    async close() {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
