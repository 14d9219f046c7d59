/**
 * mqtt-packet for the rare packets the gateway must understand (CONNECT, CONNACK, SUBSCRIBE,
 * SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT). PUBLISH and the acknowledgements are handled
 * on raw bytes (publish.ts) to keep the relay cheap.
 *
 * Frames arrive whole (frame-reader.ts), so one parser per protocol version is shared by all
 * connections: `parse` emits synchronously. A parser that errored or left bytes over is
 * replaced, never reused in an unknown state.
 */
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

type Parser = ReturnType<typeof mqttPacket.parser>;

let decoded: Packet | null = null;
let failure: Error | null = null;

function onPacket(p: Packet): void {
  decoded = p;
}
function onError(e: unknown): void {
  failure = e instanceof Error ? e : new Error(String(e));
}

function makeParser(protocolVersion: number): Parser {
  const p = mqttPacket.parser({ protocolVersion });
  p.on('packet', onPacket);
  p.on('error', onError);
  return p;
}

const parsers: Parser[] = [];

function parserFor(version: number): Parser {
  const v = version === 5 ? 5 : 4;
  return (parsers[v] ??= makeParser(v));
}

export type DecodeResult = { ok: true; packet: Packet } | { ok: false; error: Error };

/**
 * Decode one complete packet. CONNECT gets a fresh parser: mqtt-packet adopts the CONNECT as
 * its settings, which must not leak into the shared ones.
 */
export function decodePacket(frame: Buffer, version: number): DecodeResult {
  const isConnect = (frame[0] as number) >> 4 === 1;
  const parser = isConnect ? makeParser(4) : parserFor(version);
  decoded = null;
  failure = null;
  let left: number;
  try {
    left = parser.parse(frame);
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    left = -1;
  }
  const packet = decoded as Packet | null;
  const error: Error | null = failure;
  decoded = null;
  failure = null;
  if (error !== null || packet === null || left !== 0) {
    if (!isConnect) parsers[version === 5 ? 5 : 4] = makeParser(version === 5 ? 5 : 4);
    return { ok: false, error: error ?? new Error(packet === null ? 'incomplete packet' : 'trailing bytes') };
  }
  return { ok: true, packet };
}

/** Encode a packet for the given protocol level. Throws on a packet mqtt-packet refuses. */
export function encodePacket(packet: Packet, version: number): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}
