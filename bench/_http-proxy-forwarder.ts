/**
 * http-proxy's simplest correct server (its README's first example) with a keep-alive agent
 * to the upstream, which any real deployment sets. No routing, no logging, no metrics.
 *
 *   npx tsx bench/_http-proxy-forwarder.ts PORT UPSTREAM_HOST:PORT
 */
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const [port, upstream] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://${upstream}`, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});
createServer((req, res) => proxy.web(req, res)).listen(Number(port), '127.0.0.1', () => console.log('ready'));
