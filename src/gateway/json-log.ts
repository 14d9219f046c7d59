import type { GatewayLog } from './gateway.js';

/** A GatewayLog writing one JSON object per line (the CLI passes stderr; stdout stays for results). */
export function jsonLineLog(write: (line: string) => void): GatewayLog {
  const line = (level: string, msg: string, fields?: Record<string, unknown>): void =>
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  return {
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}
