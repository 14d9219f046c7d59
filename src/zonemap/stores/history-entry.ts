/** One write of the zone map, as kept in the history stream. */
export interface HistoryEntry {
  /** Stream entry id (its first part is the Redis server time in ms). */
  readonly id: string;
  readonly version: number;
  /** Version this write replaced; null for the first write. */
  readonly previous: number | null;
  /** ISO 8601 time of the write, taken by the writer. */
  readonly at: string;
  /** user@host of whoever ran the command. */
  readonly who: string;
  readonly reason: string;
  /** The command, e.g. `zone down rz03` or `rollback to 12`. */
  readonly action: string;
  /** One line per effect: shards moved, statuses and colours changed. */
  readonly summary: string;
  /** Id of the drill run that wrote this version (`zonegate drill run`), when one did. */
  readonly drill?: string;
  /** Name of that drill's plan. */
  readonly plan?: string;
}

export interface HistoryWrite {
  readonly who: string;
  readonly reason: string;
  readonly action: string;
  readonly summary: string;
  readonly drill?: string;
  readonly plan?: string;
}

/** Stream fields in the order they are written (flat name/value list for XADD). */
export function historyFields(
  version: number,
  previous: number | null,
  at: string,
  meta: HistoryWrite,
  json: string,
): string[] {
  return [
    'version',
    String(version),
    'previous',
    previous === null ? '' : String(previous),
    'at',
    at,
    'who',
    meta.who,
    'reason',
    meta.reason,
    'action',
    meta.action,
    'summary',
    meta.summary,
    // Only drill runs carry these; older readers skip fields they do not know.
    ...(meta.drill === undefined ? [] : ['drill', meta.drill]),
    ...(meta.plan === undefined ? [] : ['plan', meta.plan]),
    'map',
    json,
  ];
}

/** Parses one XRANGE entry; null when it is not one of ours (hand-written or corrupt). */
export function parseHistoryEntry(
  id: string,
  flat: readonly string[],
): { entry: HistoryEntry; json: string } | null {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] as string, flat[i + 1] as string);
  const version = Number(f.get('version'));
  if (!Number.isSafeInteger(version)) return null;
  const prev = f.get('previous');
  const drill = f.get('drill');
  const plan = f.get('plan');
  return {
    entry: {
      id,
      version,
      previous: prev === undefined || prev === '' ? null : Number(prev),
      at: f.get('at') ?? '',
      who: f.get('who') ?? '',
      reason: f.get('reason') ?? '',
      action: f.get('action') ?? '',
      summary: f.get('summary') ?? '',
      ...(drill === undefined ? {} : { drill }),
      ...(plan === undefined ? {} : { plan }),
    },
    json: f.get('map') ?? '',
  };
}
