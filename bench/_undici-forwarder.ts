/**
 * The simplest correct undici forwarder, the floor any Node gateway must beat: one Pool,
 * `Pool.stream` writing the answer straight into the client's response (no intermediate
 * Readable), hop-by-hop headers dropped both ways (RFC 9110 §7.6.1), request bodies streamed.
 * No routing, no logging, no metrics.
 *
 *   npx tsx bench/_undici-forwarder.ts PORT UPSTREAM_HOST:PORT
 */
import { createServer, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = process.argv.slice(2);
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const pool = new Pool(`http://${upstream}`, { connections: 128 });

function endToEnd<T extends Record<string, unknown>>(headers: T): T {
  for (const h of HOP) delete headers[h];
  return headers;
}

createServer((req, res) => {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream(
    {
      path: req.url ?? '/',
      method: req.method as 'GET',
      headers: endToEnd({ ...req.headers }),
      body: hasBody ? req : null,
      opaque: res,
    },
    ({ statusCode, headers, opaque }) => {
      const out = opaque as ServerResponse;
      out.writeHead(statusCode, endToEnd(headers));
      return out;
    },
    (err) => {
      if (err === null) return;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    },
  );
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
