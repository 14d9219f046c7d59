/**
 * The capacity note: how many cores of Zonegate, nginx and HAProxy serve a large deployment,
 * from the per-core figures the benchmarks measured. Benchmarks print their figures as
 * `<!-- capacity-input: {...} -->` lines (invisible in rendered Markdown, kept in
 * bench/RESULTS.md), and bench/run-all.ts rebuilds the note from whatever RESULTS.md holds,
 * so a fresh run of any one benchmark updates the arithmetic without hand edits.
 */

/** The scale of the large deployments the note sizes for. */
export const TARGET_REQ_PER_S = 10_000_000;
export const TARGET_IDLE_MQTT = 100_000_000;
/** A reconnect storm (every client after an LVS or network loss) must be over within this. */
export const STORM_WINDOW_S = 300;

export type CapacityMetric =
  /** HTTP/1.1 requests per CPU-second of the proxy process tree. */
  | 'http-req-per-cpu-s'
  /** MQTT CONNECTs accepted per CPU-second (or per second on one core). */
  | 'mqtt-connects-per-core-s'
  /** Memory per idle plain MQTT connection, KB. */
  | 'mqtt-idle-kb';

export const CAPACITY_TARGETS = ['Zonegate', 'nginx', 'HAProxy'] as const;
export type CapacityTarget = (typeof CAPACITY_TARGETS)[number];

export interface CapacityFigure {
  readonly metric: CapacityMetric;
  readonly target: CapacityTarget;
  readonly value: number;
  /** Where it was measured (the row of which table). */
  readonly source: string;
}

const TAG = 'capacity-input:';

/** The line a benchmark prints so run-all can size the fleet from its figure. */
export function capacityInputLine(figure: CapacityFigure): string {
  return `<!-- ${TAG} ${JSON.stringify(figure)} -->`;
}

/** Every capacity figure in a text (benchmark output or RESULTS.md); the last one of a kind wins. */
export function parseCapacityInputs(text: string): CapacityFigure[] {
  const found = new Map<string, CapacityFigure>();
  for (const m of text.matchAll(/<!-- capacity-input: (\{.*?\}) -->/g)) {
    try {
      const f = JSON.parse(m[1] ?? '') as CapacityFigure;
      if (typeof f.value !== 'number' || !Number.isFinite(f.value) || f.value <= 0) continue;
      if (!(CAPACITY_TARGETS as readonly string[]).includes(f.target)) continue;
      found.set(`${f.metric}/${f.target}`, f);
    } catch {
      // A mangled line is skipped: the note says "not measured" for what it lacks.
    }
  }
  return [...found.values()];
}

/**
 * MQTT figures from bench/mqtt.ts's printed table when it emits no capacity-input lines. The
 * table has one row per measure and one column per target: "connects per relay CPU-second"
 * gives the per-core connect rate of HAProxy and Zonegate, "idle KB per plain connection"
 * their memory per idle connection.
 */
export function mqttFiguresFromTable(text: string): CapacityFigure[] {
  const out: CapacityFigure[] = [];
  const rows = text
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) => l.split('|').map((c) => c.trim()));
  const header = rows.find((r) => r[1] === 'measure');
  if (header === undefined) return out;
  const targets: [CapacityTarget, number][] = [];
  for (const t of ['HAProxy', 'Zonegate'] as const) {
    const col = header.findIndex((c) => c === t);
    if (col > 0) targets.push([t, col]);
  }
  const pick = (measure: RegExp, metric: CapacityFigure['metric']): void => {
    const row = rows.find((r) => measure.test(r[1] ?? ''));
    if (row === undefined) return;
    for (const [target, col] of targets) {
      const value = Number((row[col] ?? '').replace(/,/g, ''));
      if (value > 0) out.push({ metric, target, value, source: `bench/mqtt.ts "${row[1] ?? ''}" row` });
    }
  };
  pick(/^connects per relay CPU-second/, 'mqtt-connects-per-core-s');
  pick(/^idle KB per plain connection/, 'mqtt-idle-kb');
  return out;
}

const n = (x: number, digits = 0): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The capacity note, Markdown, with the arithmetic written out so a reader can check it. */
export function capacityNote(figures: readonly CapacityFigure[]): string {
  const get = (metric: CapacityMetric, target: CapacityTarget): CapacityFigure | undefined =>
    figures.find((f) => f.metric === metric && f.target === target);
  const stormRate = TARGET_IDLE_MQTT / STORM_WINDOW_S;
  const rows = CAPACITY_TARGETS.map((t) => {
    const http = get('http-req-per-cpu-s', t);
    const conn = get('mqtt-connects-per-core-s', t);
    const kb = get('mqtt-idle-kb', t);
    return [
      t,
      http === undefined
        ? 'not measured'
        : `${n(TARGET_REQ_PER_S)} / ${n(http.value)} = **${n(Math.ceil(TARGET_REQ_PER_S / http.value))}**`,
      conn === undefined
        ? 'not measured'
        : `${n(stormRate)} / ${n(conn.value)} = **${n(Math.ceil(stormRate / conn.value))}**`,
      kb === undefined
        ? 'not measured'
        : `${n(TARGET_IDLE_MQTT)} × ${n(kb.value, 1)} KB = **${n((TARGET_IDLE_MQTT * kb.value) / 1024 ** 3, 2)} TiB**`,
    ];
  });
  const sources = figures.map((f) => `${f.target} ${f.metric} = ${n(f.value, 1)} (${f.source})`);
  return [
    `How many cores serve ${n(TARGET_REQ_PER_S)} HTTP requests per second, and hold ${n(TARGET_IDLE_MQTT)} idle MQTT`,
    `connections so that all of them can reconnect within ${STORM_WINDOW_S} s after a loss`,
    `(${n(TARGET_IDLE_MQTT)} / ${STORM_WINDOW_S} s = ${n(stormRate)} connects/s), from the per-core figures above.`,
    'Cores are whole proxy cores at 100% busy: add headroom (nginx and HAProxy need it too).',
    'Memory is for the idle connections alone.',
    '',
    '| proxy | cores for HTTP (req/s ÷ req per CPU-second) | cores for the MQTT reconnect storm (connects/s ÷ per core) | idle MQTT memory |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'nginx has no MQTT row: it cannot route MQTT by client id (bench/mqtt.ts measures HAProxy beside Zonegate).',
    '',
    'Figures used:',
    '',
    ...(sources.length === 0 ? ['- none measured yet'] : sources.map((s) => `- ${s}`)),
  ].join('\n');
}
