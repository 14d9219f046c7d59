/**
 * PINGREQ / PINGRESP (MQTT 3.1.1 §3.12-3.13, MQTT 5 §3.12-3.13). The client's pings are relayed;
 * the gateway pings a silent broker itself and swallows the answer (dead broker detection).
 */
export const PINGREQ_FRAME: Buffer = Buffer.from([0xc0, 0x00]);
export const PINGRESP_FRAME: Buffer = Buffer.from([0xd0, 0x00]);

/** Keep Alive enforcement: one and a half times the interval (§3.1.2.10, MQTT-3.1.2-24). */
export function keepaliveDeadlineMs(keepaliveSec: number): number {
  return keepaliveSec === 0 ? 0 : keepaliveSec * 1500;
}
