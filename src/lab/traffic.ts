/**
 * Simulated users and what they felt. Each user knows where it must land: the lab follows
 * the store's map versions and when every gateway confirmed each one, and an answer is right
 * when it comes from the zone that some map in force during the request says (until every
 * gateway reports a new version, the previous one is still in force).
 *
 * Answers are judged after the run, not when they arrive: a gateway can apply a write and
 * answer by it before the tracker's next look has even seen that write.
 */
import http from 'node:http';
import { shardOf } from '../router/index.js';
import { compileZoneMap, type CompiledZoneMap } from '../zonemap/index.js';
import type { ZoneMapStore } from '../zonemap/stores/index.js';
import { judgeFleet, classifyGateways } from '../drill/convergence.js';
import { readCurrent } from '../drill/run-change.js';
import type { LabGateway } from './fleet.js';
import { MqttUser } from './mqtt-user.js';

interface MapEra {
  readonly version: number;
  readonly map: CompiledZoneMap;
  /** No later than the write: the writer's own time, or the last look that still saw the version before. */
  readonly writtenAt: number;
  convergedAt: number | null;
}

/** Follows the store: every version written, and when every gateway reported it. */
export class MapTracker {
  readonly eras: MapEra[] = [];
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | null = null;
  /** When the last look began: the store still held the newest known version then. */
  private lastLookAt = 0;
  private readonly store: ZoneMapStore;
  private readonly staleMs: number;

  constructor(store: ZoneMapStore, staleMs: number) {
    this.store = store;
    this.staleMs = staleMs;
  }

  async start(): Promise<void> {
    await this.look();
    this.timer = setInterval(() => void this.lookOnce().catch(() => undefined), 25);
  }

  /** Stops following after one more look, so that every write made before the call is known. */
  async finish(): Promise<void> {
    this.stop();
    await this.looking?.catch(() => undefined);
    await this.look();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private lookOnce(): Promise<void> {
    this.looking ??= this.look().finally(() => (this.looking = null));
    return this.looking;
  }

  private async look(): Promise<void> {
    const now = Date.now();
    const cur = await readCurrent(this.store);
    const last = this.eras.at(-1);
    if (cur.doc !== null && cur.version !== null && cur.version !== last?.version) {
      // The write came after the previous look's read began, and its history entry holds the
      // writer's time (taken just before the write): the later of the two is still no later
      // than the write, and answers by the new map from then on are right.
      const entry = (await this.store.history(8).catch(() => [])).find((h) => h.version === cur.version);
      const written = entry === undefined ? Number.NaN : Date.parse(entry.at);
      const floor = last === undefined ? now : this.lastLookAt;
      this.eras.push({
        version: cur.version,
        map: compileZoneMap(cur.doc),
        writtenAt: Number.isFinite(written) ? Math.min(now, Math.max(floor, written)) : floor,
        convergedAt: null,
      });
    }
    this.lastLookAt = now;
    const era = this.eras.at(-1);
    if (era !== undefined && era.convergedAt === null) {
      const view = judgeFleet(
        era.version,
        classifyGateways(await this.store.gateways(), era.version, this.staleMs),
      );
      if (view.converged) era.convergedAt = Date.now();
    }
  }

  /** The maps in force at some moment of [t0, t1]. */
  inForce(t0: number, t1: number): CompiledZoneMap[] {
    const out: CompiledZoneMap[] = [];
    this.eras.forEach((e, i) => {
      const next = this.eras[i + 1];
      const startsBefore = e.writtenAt <= t1;
      const stillInForce = next === undefined || next.convergedAt === null || next.convergedAt >= t0;
      if (startsBefore && stillInForce) out.push(e.map);
    });
    // Written between two looks of the tracker: the newest known map stands in.
    if (out.length === 0 && this.eras.length > 0) out.push((this.eras.at(-1) as MapEra).map);
    return out;
  }
}

function servingZone(map: CompiledZoneMap, uid: string): string | null {
  const owner = map.zones[map.shardOwner[shardOf(uid, map.shards)] ?? -1];
  const serving = owner === undefined ? undefined : map.zones[owner.serving];
  return serving?.name ?? null;
}

function liveZone(map: CompiledZoneMap, zone: string): boolean {
  const i = map.zoneIndex.get(zone);
  return i !== undefined && map.zones[i]?.live === true;
}

export interface HttpFigures {
  readonly users: number;
  readonly anonymous: number;
  readonly requests: number;
  readonly failed: number;
  readonly wrongZone: number;
  /** Failed requests by what they got (`503`, `timeout`, `ECONNRESET`, ...). */
  readonly failedBy: Readonly<Record<string, number>>;
  /** The first few failures and wrong answers, in words. */
  readonly failures: readonly string[];
}

interface Outage {
  readonly start: number;
  readonly end: number | null;
}

/** Each user's outages (runs of failed or wrong answers), the wrong-zone count, the first bad answers. */
interface Verdict {
  readonly outages: Map<HttpUser, Outage[]>;
  readonly wrongZone: number;
  readonly failures: string[];
}

/** One request as the user saw it, judged after the run. */
interface Answer {
  readonly t0: number;
  readonly t1: number;
  /** The zone that answered, or null when the request failed. */
  readonly zone: string | null;
  /** The failure in words (empty for an answer). */
  readonly what: string;
}

class HttpUser {
  cookie: string | null = null;
  readonly answers: Answer[] = [];
  constructor(
    readonly uid: string | null,
    readonly gw: LabGateway,
  ) {}
}

function request(
  agent: http.Agent,
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface TrafficOptions {
  readonly gateways: readonly LabGateway[];
  readonly httpUsers: number;
  readonly anonymousUsers: number;
  readonly mqttUsers: number;
  /** Pause between two requests of one user. */
  readonly thinkMs: number;
  /** Between two QoS 1 messages of one MQTT user. */
  readonly publishMs: number;
  readonly tracker: MapTracker;
}

/** The load: bounded by user count and stopped by stop(). */
export class Traffic {
  private readonly o: TrafficOptions;
  private readonly users: HttpUser[] = [];
  readonly mqtt: MqttUser[] = [];
  private readonly agents = new Map<number, http.Agent>();
  private running = false;
  private loops: Promise<void>[] = [];
  private publisher: NodeJS.Timeout | undefined;
  /** Judged once, after stop() and the tracker's last look: http() and every rtoMs() read it. */
  private verdict: Verdict | null = null;
  private readonly failedBy: Record<string, number> = {};

  constructor(o: TrafficOptions) {
    this.o = o;
  }

  private agent(port: number): http.Agent {
    let a = this.agents.get(port);
    if (a === undefined) {
      a = new http.Agent({ keepAlive: true, maxSockets: 256 });
      this.agents.set(port, a);
    }
    return a;
  }

  /** Users log in (cookie set by the gateway), MQTT users subscribe. Users are spread over the cities' gateways. */
  async start(): Promise<void> {
    const gws = this.o.gateways;
    const uid = (i: number): string => String(1_000_003 + i * 7919);
    for (let i = 0; i < this.o.httpUsers; i++)
      this.users.push(new HttpUser(uid(i), gws[i % gws.length] as LabGateway));
    for (let i = 0; i < this.o.anonymousUsers; i++)
      this.users.push(new HttpUser(null, gws[i % gws.length] as LabGateway));
    for (let i = 0; i < this.o.mqttUsers; i++) {
      const gw = gws[i % gws.length] as LabGateway;
      this.mqtt.push(new MqttUser(uid(100_000 + i), gw.mqttPort));
    }
    await Promise.all(this.users.filter((u) => u.uid !== null).map((u) => this.login(u)));
    await Promise.all(this.mqtt.map((m) => m.start()));
    this.running = true;
    this.loops = this.users.map((u) => this.loop(u));
    this.publisher = setInterval(() => {
      for (const m of this.mqtt) m.publish();
    }, this.o.publishMs);
  }

  private async login(u: HttpUser): Promise<void> {
    const r = await request(
      this.agent(u.gw.httpPort),
      u.gw.httpPort,
      `/login?uid=${u.uid}`,
      { 'x-ldc-uid': u.uid ?? '' },
      10_000,
    );
    const c = r.setCookie.map((s) => s.split(';')[0] ?? '').find((s) => s.startsWith('ldc='));
    if (r.status !== 200 || c === undefined)
      throw new Error(`login of ${u.uid} through ${u.gw.id}: ${r.status} ${r.body}`);
    u.cookie = c;
  }

  private async loop(u: HttpUser): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      try {
        // The cookie alone names the user, as a browser would send it.
        const r = await request(
          this.agent(u.gw.httpPort),
          u.gw.httpPort,
          '/orders',
          u.cookie === null ? {} : { cookie: u.cookie },
          10_000,
        );
        if (r.status !== 200) {
          this.failedBy[String(r.status)] = (this.failedBy[String(r.status)] ?? 0) + 1;
          const what = `${u.gw.id}: ${r.status} ${r.body.slice(0, 120)}`;
          u.answers.push({ t0, t1: Date.now(), zone: null, what });
        } else {
          const zone = (JSON.parse(r.body) as { zone: string }).zone;
          u.answers.push({ t0, t1: Date.now(), zone, what: '' });
        }
      } catch (err) {
        const kind = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        this.failedBy[kind] = (this.failedBy[kind] ?? 0) + 1;
        const what = `${u.gw.id}: ${(err as Error).message} (${Date.now() - t0} ms)`;
        u.answers.push({ t0, t1: Date.now(), zone: null, what });
      }
      await new Promise((r) => setTimeout(r, this.o.thinkMs));
    }
  }

  /** Right when the zone that answered is the one some map in force during the request names. */
  private right(u: HttpUser, a: Answer): boolean {
    if (a.zone === null) return false;
    const zone = a.zone;
    const maps = this.o.tracker.inForce(a.t0, a.t1);
    return maps.some((m) => (u.uid === null ? liveZone(m, zone) : servingZone(m, u.uid) === zone));
  }

  /** Each user's outages (runs of failed or wrong answers) and the first few bad answers. */
  private judge(): Verdict {
    this.verdict ??= this.judgeAll();
    return this.verdict;
  }

  private judgeAll(): Verdict {
    const outages = new Map<HttpUser, Outage[]>();
    const bad: { t0: number; what: string }[] = [];
    let wrongZone = 0;
    for (const u of this.users) {
      const list: Outage[] = [];
      let badSince: number | null = null;
      for (const a of u.answers) {
        if (this.right(u, a)) {
          if (badSince !== null) list.push({ start: badSince, end: a.t1 });
          badSince = null;
          continue;
        }
        if (a.zone !== null) wrongZone++;
        bad.push({
          t0: a.t0,
          what: a.zone === null ? a.what : `${u.gw.id}: uid ${u.uid ?? '(anonymous)'} answered by ${a.zone}`,
        });
        badSince ??= a.t0;
      }
      if (badSince !== null) list.push({ start: badSince, end: null });
      outages.set(u, list);
    }
    bad.sort((a, b) => a.t0 - b.t0);
    return { outages, wrongZone, failures: bad.slice(0, 20).map((b) => b.what) };
  }

  /** Stops the load, waits for the last answers; MQTT users stay connected (see settleMqtt). */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.publisher);
    await Promise.all(this.loops);
  }

  /** Waits until every acknowledged QoS 1 message came back, or timeoutMs; then disconnects. */
  async settleMqtt(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.mqtt.some((m) => m.missing() > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const m of this.mqtt) m.stop();
    for (const a of this.agents.values()) a.destroy();
  }

  http(): HttpFigures {
    const answers = this.users.flatMap((u) => u.answers);
    const { wrongZone, failures } = this.judge();
    return {
      users: this.users.length,
      anonymous: this.o.anonymousUsers,
      requests: answers.length,
      failed: answers.filter((a) => a.zone === null).length,
      wrongZone,
      failedBy: { ...this.failedBy },
      failures,
    };
  }

  /**
   * RTO of each map write: from the write until the last user hit by it was served right again
   * (0 when nobody noticed; null when someone is still not served right).
   */
  rtoMs(writtenAt: number, until: number): number | null {
    let rto = 0;
    for (const list of this.judge().outages.values()) {
      for (const o of list) {
        if (o.end === null) {
          if (o.start < until) return null;
        } else if (o.end >= writtenAt && o.start < until) rto = Math.max(rto, o.end - writtenAt);
      }
    }
    return rto;
  }
}
