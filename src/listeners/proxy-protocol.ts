/**
 * PROXY protocol v1 and v2 header parser (haproxy.org/download/2.9/doc/proxy-protocol.txt).
 * LVS / haproxy put this header in front of the client's first byte so that we learn the
 * address the balancer saw. Pure: bytes in, verdict out; the socket side is proxy-reader.ts.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: a health check from the balancer itself; the socket's own addresses apply. */
  readonly command: 'proxy' | 'local';
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  /** null for `local`, `UNKNOWN` and non-TCP families. */
  readonly source: ProxyAddress | null;
  readonly destination: ProxyAddress | null;
}

export type ProxyParseResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'ok'; readonly header: ProxyHeader; readonly consumed: number };

/** v1 §2.1: "a receiver may reject an incomplete line which does not contain the CRLF sequence in the first 107 characters". */
export const V1_MAX_BYTES = 107;
/** v2 §2.2: the 12-byte signature. */
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/**
 * v2 allows 65535 bytes of addresses + TLVs; balancers in front of us send at most a few
 * TLVs, so we refuse more instead of buffering 64 KiB per connection from strangers.
 */
export const V2_MAX_PAYLOAD_BYTES = 2048;
/** Largest header readProxyHeader ever buffers. */
export const MAX_PROXY_HEADER_BYTES = 16 + V2_MAX_PAYLOAD_BYTES;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const INCOMPLETE: ProxyParseResult = { kind: 'incomplete' };

function invalid(message: string): ProxyParseResult {
  return { kind: 'invalid', message };
}

/** Prefix check on what has arrived so far: lets us refuse junk at its first byte. */
function matchesPrefix(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

/** Parse the header at the start of `buf` (which may hold the client's first bytes after it). */
export function parseProxyHeader(buf: Buffer): ProxyParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (matchesPrefix(buf, V2_SIGNATURE)) return buf.length < 16 ? INCOMPLETE : parseV2(buf);
  if (matchesPrefix(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
  return invalid('connection does not start with a PROXY protocol header');
}

function parsePort(s: string | undefined): number {
  // v1 §2.1: ports are decimal 0..65535 without leading zeros.
  if (s === undefined || !/^(0|[1-9]\d{0,4})$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

function parseV1(buf: Buffer): ProxyParseResult {
  const limit = Math.min(buf.length, V1_MAX_BYTES);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit - 1; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1)
    return buf.length >= V1_MAX_BYTES ? invalid('PROXY v1 line longer than 107 bytes') : INCOMPLETE;
  const line = buf.toString('latin1', 0, end);
  const parts = line.split(' ');
  const consumed = end + 2;
  if (parts[1] === 'UNKNOWN') {
    // v1 §2.1: "the receiver must ignore anything presented before the CRLF is found".
    return {
      kind: 'ok',
      consumed,
      header: { version: 1, command: 'proxy', family: 'unknown', source: null, destination: null },
    };
  }
  if (parts.length !== 6) return invalid('PROXY v1 line must have 6 fields');
  const [, proto, src, dst, sport, dport] = parts;
  const check = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : null;
  if (check === null)
    return invalid(`PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN, got ${JSON.stringify(proto)}`);
  if (src === undefined || dst === undefined || !check(src) || !check(dst))
    return invalid(`PROXY v1 bad ${proto} address`);
  const sp = parsePort(sport);
  const dp = parsePort(dport);
  if (sp < 0 || dp < 0) return invalid('PROXY v1 bad port');
  return {
    kind: 'ok',
    consumed,
    header: {
      version: 1,
      command: 'proxy',
      family: proto === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: src, port: sp },
      destination: { address: dst, port: dp },
    },
  };
}

function ipv6(buf: Buffer, off: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(buf.readUInt16BE(off + i).toString(16));
  // SocketAddress round-trips through inet_ntop, giving the canonical "::1" form logs expect.
  return new SocketAddress({ address: words.join(':'), family: 'ipv6' }).address;
}

function parseV2(buf: Buffer): ProxyParseResult {
  const verCmd = buf[12] ?? 0;
  const famProto = buf[13] ?? 0;
  const len = buf.readUInt16BE(14);
  // v2 §2.2: the high nibble is the version and must be 2; the low nibble the command.
  if (verCmd >> 4 !== 2) return invalid('PROXY v2 bad version');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid('PROXY v2 bad command');
  if (len > V2_MAX_PAYLOAD_BYTES) return invalid(`PROXY v2 header longer than ${V2_MAX_PAYLOAD_BYTES} bytes`);
  if (buf.length < 16 + len) return INCOMPLETE;
  const consumed = 16 + len;
  if (cmd === 0) {
    // LOCAL: the balancer's own connection (health check); "the receiver must ... use the real connection endpoints".
    return {
      kind: 'ok',
      consumed,
      header: { version: 2, command: 'local', family: 'unknown', source: null, destination: null },
    };
  }
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  // 0x1 = STREAM; DGRAM and UNSPEC carry no TCP address we could use.
  if (family === 0x1 && transport === 0x1) {
    if (len < 12) return invalid('PROXY v2 TCP4 address block too short');
    const src = `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`;
    const dst = `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`;
    return {
      kind: 'ok',
      consumed,
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp4',
        source: { address: src, port: buf.readUInt16BE(24) },
        destination: { address: dst, port: buf.readUInt16BE(26) },
      },
    };
  }
  if (family === 0x2 && transport === 0x1) {
    if (len < 36) return invalid('PROXY v2 TCP6 address block too short');
    return {
      kind: 'ok',
      consumed,
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp6',
        source: { address: ipv6(buf, 16), port: buf.readUInt16BE(48) },
        destination: { address: ipv6(buf, 32), port: buf.readUInt16BE(50) },
      },
    };
  }
  if (family > 0x3 || transport > 0x2) return invalid('PROXY v2 bad address family or transport');
  return {
    kind: 'ok',
    consumed,
    header: { version: 2, command: 'proxy', family: 'unknown', source: null, destination: null },
  };
}

/** Encode a header (tests, benchmarks and peer tooling use it; the gateway itself only parses). */
export function encodeProxyHeader(version: 1 | 2, source: ProxyAddress, destination: ProxyAddress): Buffer {
  const six = isIPv6(source.address);
  if (version === 1) {
    return Buffer.from(
      `PROXY ${six ? 'TCP6' : 'TCP4'} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`,
      'latin1',
    );
  }
  const addrLen = six ? 36 : 12;
  const out = Buffer.alloc(16 + addrLen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21;
  out[13] = six ? 0x21 : 0x11;
  out.writeUInt16BE(addrLen, 14);
  const put = (addr: string, off: number): void => {
    if (!six) {
      addr.split('.').forEach((o, i) => (out[off + i] = Number(o)));
      return;
    }
    // Expand "::" so every one of the 8 groups is written.
    const [head = '', tail] = addr.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), off + i * 2));
  };
  put(source.address, 16);
  put(destination.address, six ? 32 : 20);
  out.writeUInt16BE(source.port, six ? 48 : 24);
  out.writeUInt16BE(destination.port, six ? 50 : 26);
  return out;
}
