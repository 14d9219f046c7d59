/**
 * The Node.js floor of the HTTP table: not a proxy. Each client connection gets its own
 * upstream keep-alive connection; the client's bytes are written to it as they come, and the
 * upstream's answers are cut by Content-Length only and written back. No parsing beyond that,
 * no header rewriting, no routing, no log, no metrics, no error answers. It shows what Node's
 * sockets cost per request (two reads, two writes), so the table tells how much of a Node
 * gateway's cost is its own work.
 *
 *   npx tsx bench/_raw-forwarder.ts PORT UPSTREAM_HOST:PORT
 */
import { connect, createServer } from 'node:net';

const [port, upstream] = process.argv.slice(2);
const [upHost, upPort] = (upstream ?? '').split(':');
const HEAD_END = Buffer.from('\r\n\r\n');
const LENGTH = /\r\ncontent-length: *(\d+)/i;

createServer({ noDelay: true }, (client) => {
  const up = connect({ host: upHost, port: Number(upPort), noDelay: true });
  let held: Buffer | null = null;
  /** Bytes of the answer being relayed, head included; -1 while its head is incomplete. */
  let need = -1;
  client.on('data', (d: Buffer) => up.write(d));
  up.on('data', (d: Buffer) => {
    let buf = held === null ? d : Buffer.concat([held, d]);
    held = null;
    for (;;) {
      if (need < 0) {
        const end = buf.indexOf(HEAD_END);
        if (end < 0) break;
        const m = LENGTH.exec(buf.toString('latin1', 0, end));
        need = end + 4 + (m === null ? 0 : Number(m[1]));
      }
      if (buf.length < need) break;
      client.write(buf.subarray(0, need));
      buf = buf.subarray(need);
      need = -1;
      if (buf.length === 0) return;
    }
    held = buf;
  });
  client.on('close', () => up.destroy());
  up.on('close', () => client.destroy());
  client.on('error', () => undefined);
  up.on('error', () => undefined);
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
