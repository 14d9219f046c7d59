/**
 * The Node.js floor of the h2 table: not a proxy. A bare `http2.createSecureServer` (Node's
 * defaults) that answers every stream itself with the bench upstream's fixed ~100-byte body,
 * using the core stream API (no compatibility layer). There is no upstream leg at all, so any
 * Node h2 proxy costs more per request than this; the table can then tell what Node's HTTP/2
 * alone costs next to nginx and HAProxy, which proxy the same requests.
 *
 *   npx tsx bench/_h2-floor.ts PORT CERT_FILE KEY_FILE
 */
import { readFileSync } from 'node:fs';
import { createSecureServer, constants } from 'node:http2';

const [port, certFile, keyFile] = process.argv.slice(2);
const BODY = Buffer.from(
  '{"zone":"rz03","colour":"blue","uid":"1234","note":"a fixed answer of about one hundred bytes"}\n',
);
const HEADERS = {
  [constants.HTTP2_HEADER_STATUS]: 200,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/json',
  [constants.HTTP2_HEADER_CONTENT_LENGTH]: BODY.length,
};

const server = createSecureServer({ cert: readFileSync(certFile ?? ''), key: readFileSync(keyFile ?? '') });
server.on('stream', (stream) => {
  stream.on('error', () => undefined);
  stream.respond(HEADERS);
  stream.end(BODY);
});
server.on('sessionError', () => undefined);
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
