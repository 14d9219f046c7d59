/**
 * `zonegate demo --drill`: the drill the demo prints, run by itself and narrated with timings.
 * uid 1234 (shard 34, zone rz03) holds an MQTT subscription and sends HTTP requests while
 * rz03 is taken down and brought back through the drill commands' own write path (runChange on
 * the demo's map file). It checks what a user would: the HTTP answer changes zone, the
 * subscriber's one connection stays open and is answered by the new zone's broker.
 */
import { DEFAULT_MAX_MOVE_PERCENT, runChange, statusPlan } from '../drill/index.js';
import { DEMO_PING_TOPIC, DEMO_PONG_TOPIC, DemoMqttClient, type Demo } from '../gateway/index.js';
import type { Status } from '../zonemap/index.js';
import { FileZoneMapStore } from '../zonemap/stores/index.js';
import type { CliIo } from './command.js';
import { mapHistory } from './commands/map-history.js';

const UID = '1234';
const ZONE = 'rz03';
const STANDBY = 'rz01';
/** How long one step may take before the drill calls it failed (a loaded laptop included). */
const STEP_TIMEOUT_MS = 15_000;

class DrillStepFailed extends Error {}

export async function runDemoDrill(d: Demo, io: CliIo): Promise<number> {
  const t0 = performance.now();
  const at = (): string => `[${((performance.now() - t0) / 1000).toFixed(3).padStart(7)}s]`;
  const say = (text: string): void => io.out(`${at()} ${text}`);
  const { host, port } = d.mqtt;

  const httpZone = async (): Promise<string> => {
    const r = await fetch(`${d.httpUrl}/orders`, { headers: { 'x-ldc-uid': UID } });
    const body = (await r.json()) as { zone?: string; colour?: string };
    return `${r.status} from ${body.zone ?? '?'} (${body.colour ?? '?'})`;
  };

  io.out(`\nDrill: take ${ZONE} down and bring it back, on the map file ${d.mapFile}\n`);
  const sub = await DemoMqttClient.connect(host, port, `${UID}-drill-sub`);
  const pub = await DemoMqttClient.connect(host, port, `${UID}-drill-pub`);
  try {
    await sub.subscribe(DEMO_PONG_TOPIC);
    say(`MQTT  ${sub.clientId} connected to mqtt://${host}:${port} and subscribed to '${DEMO_PONG_TOPIC}'`);

    /** Pings until the subscriber hears the pong of `zone`; returns it and how long that took. */
    const pongFrom = async (zone: string, label: string): Promise<{ text: string; ms: number }> => {
      const start = performance.now();
      return new Promise((resolve, reject) => {
        const onMessage = (topic: string, payload: string): void => {
          if (topic !== DEMO_PONG_TOPIC || !payload.startsWith(`${zone}: `)) return;
          done();
          resolve({ text: payload, ms: performance.now() - start });
        };
        const onClose = (): void => {
          done();
          reject(new DrillStepFailed(`the subscriber's connection closed while waiting for ${zone}`));
        };
        // QoS 0 pings sent while the two clients are being moved may reach a broker the
        // subscriber has just left: ask again until the new zone answers.
        const tick = setInterval(() => pub.publish(DEMO_PING_TOPIC, label), 100);
        const timer = setTimeout(() => {
          done();
          reject(new DrillStepFailed(`no pong from ${zone} within ${STEP_TIMEOUT_MS} ms`));
        }, STEP_TIMEOUT_MS);
        const done = (): void => {
          clearInterval(tick);
          clearTimeout(timer);
          sub.off('message', onMessage);
          sub.off('close', onClose);
        };
        sub.on('message', onMessage);
        sub.on('close', onClose);
        pub.publish(DEMO_PING_TOPIC, label);
      });
    };

    const before = await pongFrom(ZONE, 'before the drill');
    say(`MQTT  ping → pong '${before.text}'`);
    say(`HTTP  uid ${UID} → ${await httpZone()}`);

    for (const [status, expect, reason] of [
      ['down', STANDBY, 'demo drill'],
      ['up', ZONE, 'drill over'],
    ] as const satisfies readonly (readonly [Status, string, string])[]) {
      const applied = waitForVersion(d);
      // Awaited below; this only keeps a failed write from leaving it unhandled.
      applied.catch(() => undefined);
      say(`$ zonegate zone ${status} ${ZONE} --map ${d.mapFile} --reason '${reason}'`);
      const wroteAt = performance.now();
      const code = await runChange(
        await FileZoneMapStore.open(d.mapFile),
        { reason, dryRun: false, force: false, maxMovePercent: DEFAULT_MAX_MOVE_PERCENT, json: false },
        statusPlan('zone', ZONE, status),
        { out: (t) => io.out(`             ${t.split('\n').join('\n             ')}`), err: io.err },
      );
      if (code !== 0) throw new DrillStepFailed(`zone ${status} ${ZONE} exited ${code}`);
      const version = await applied;
      say(
        `gateway: zone map version ${version} applied ${Math.round(performance.now() - wroteAt)} ms after the write`,
      );
      say(`HTTP  uid ${UID} → ${await httpZone()}`);
      const pong = await pongFrom(expect, `after zone ${status}`);
      say(
        `MQTT  pong '${pong.text}' (${Math.round(pong.ms)} ms); ${sub.clientId} still on its first connection ` +
          `(${sub.connacks} CONNACK)`,
      );
    }
    const ok = !sub.closed && sub.connacks === 1;
    io.out(`\n$ zonegate map history --map ${d.mapFile}`);
    await mapHistory.run({ values: { map: d.mapFile, limit: '10' }, positionals: [] }, io);
    io.out(
      `\nDrill done in ${((performance.now() - t0) / 1000).toFixed(1)} s: HTTP and MQTT followed the map ` +
        `both ways; the subscriber ${ok ? 'never reconnected' : 'reconnected'}.`,
    );
    return ok ? 0 : 1;
  } catch (err) {
    if (!(err instanceof DrillStepFailed)) throw err;
    io.err(`drill failed: ${err.message}`);
    return 1;
  } finally {
    await Promise.all([sub.close(), pub.close()]);
  }
}

/** The next map version the demo's gateway applies. */
function waitForVersion(d: Demo): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      d.gateway.holder.off('change', onChange);
      reject(new DrillStepFailed(`the gateway applied no new map within ${STEP_TIMEOUT_MS} ms`));
    }, STEP_TIMEOUT_MS);
    const onChange = (next: { version: number }): void => {
      clearTimeout(timer);
      d.gateway.holder.off('change', onChange);
      resolve(next.version);
    };
    d.gateway.holder.on('change', onChange);
  });
}
