/**
 * The Node.js floor of the HTTP table: not a proxy. Each client connection gets its own
 * upstream keep-alive connection; the client's bytes are written to it as they come, and the
 * upstream's answers are cut by Content-Length only and written back. No parsing beyond that,
 * no header rewriting, no routing, no log, no metrics, no error answers. It shows what Node's
 * sockets cost per request (two reads, two writes), so the table tells how much of a Node
 * gateway's cost is its own work.
 *
 * With a certificate and key it terminates TLS first (a bare `tls.Server`, Node's defaults:
 * session tickets on, as Zonegate's): the TLS table's floor, for handshakes and keep-alive.
 *
 *   npx tsx bench/_raw-forwarder.ts PORT UPSTREAM_HOST:PORT [CERT_FILE KEY_FILE]
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

const [port, upstream, certFile, keyFile] = process.argv.slice(2);
const [upHost, upPort] = (upstream ?? '').split(':');
const HEAD_END = Buffer.from('\r\n\r\n');
const LENGTH = /\r\ncontent-length: *(\d+)/i;

function relay(client: Socket): void {
  client.setNoDelay(true);
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
}

const server =
  certFile === undefined || keyFile === undefined
    ? createServer(relay)
    : createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, relay);
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
