/**
 * The active health check of a broker: an MQTT CONNECT answered by a CONNACK, not just a TCP
 * connect. A broker whose process is stopped or wedged still has its listening socket accept
 * TCP connections (the kernel completes the handshake into the backlog), and one at its
 * connection limit or shutting down accepts and then refuses the session: only a CONNACK
 * shows it serves clients. The probe is a 3.1.1 CONNECT (every broker that speaks 5 speaks
 * 3.1.1 too) with a clean session and a one-off client id, ended by DISCONNECT so no Will is
 * published (§3.14.4). A CONNACK refusing for the client's reasons (bad credentials, not
 * authorised) still says the broker is up.
 */
import net from 'node:net';
import type { EndpointState } from '../upstream/index.js';
import { encodePacket } from './codec.js';
import { PLAIN_DISCONNECT } from './disconnect.js';

/**
 * CONNACK codes that say the broker, not the client, is the problem: 3.1.1 0x03 "Server
 * unavailable" (§3.2.2.3); MQTT 5 0x80 "Unspecified error", 0x88 "Server unavailable", 0x89
 * "Server busy" (§3.2.2.2). A connect answered so is tried at the zone's next broker, and the
 * broker is ejected like one that refused the TCP connect.
 */
export function isServerFailure(code: number, version: number): boolean {
  if (version === 5) return code === 0x80 || code === 0x88 || code === 0x89;
  return code === 0x03;
}

let probes = 0;

/** Resolves true when the broker answered the CONNECT with a CONNACK that is no server failure. */
export function probeBroker(broker: EndpointState, timeoutMs: number): Promise<boolean> {
  const connect = encodePacket(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
      clientId: `zonegate-health-${process.pid}-${(probes++).toString(36)}`,
    },
    4,
  );
  return new Promise((resolve) => {
    const socket = net.connect({ host: broker.host, port: broker.port, noDelay: true });
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) socket.end(PLAIN_DISCONNECT);
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(finish, timeoutMs, false);
    socket.on('connect', () => socket.write(connect));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      // 3.1.1 CONNACK: 0x20, remaining length 2, flags, return code (§3.2).
      if (got.length < 4) return;
      finish(got[0] === 0x20 && got[1] === 0x02 && !isServerFailure(got[3] as number, 4));
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}
