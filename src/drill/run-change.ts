import { DocumentReadError, InvalidZoneMapError } from '../core/errors.js';
import type { CliIo } from '../core/args.js';
import type { CompiledZoneMap, ZoneMapDoc } from '../zonemap/index.js';
import { compileZoneMap, validateZoneMap } from '../zonemap/index.js';
import {
  decodeStoredMap,
  writeZoneMap,
  ZoneMapNotFoundError,
  type HistoryWrite,
  type ZoneMapStore,
} from '../zonemap/stores/index.js';
import { blastRadius, formatBlastRadius, summarizeBlastRadius, type BlastRadius } from './blast-radius.js';
import type { ChangeFlags } from './cli-options.js';
import { DrillRefusedError } from './errors.js';
import { guardRailViolations } from './guard-rails.js';
import { withVersion } from './mutations.js';
import { whoRan } from './who.js';

/** The map in the store when a command starts. */
export interface CurrentMap {
  /** Null when the store is empty or holds a map that fails validation (see `problem`). */
  readonly doc: ZoneMapDoc | null;
  /** The stored version, even for an invalid map: the compare-and-set is against it. */
  readonly version: number | null;
  readonly problem: InvalidZoneMapError | DocumentReadError | null;
}

export interface ChangePlan {
  /** Recorded in history, e.g. `zone down rz03`. */
  readonly action: string;
  /** The next document from the current one; its version is set by prepareChange. */
  build(current: CurrentMap, store: ZoneMapStore): Promise<ZoneMapDoc> | ZoneMapDoc;
  /**
   * Version the change is based on, when it is not the current one (`map apply FILE` is
   * based on the version the file was edited from, so a stale file conflicts).
   */
  readonly basedOn?: (current: CurrentMap) => number | null;
}

/** For the drill commands, which edit the current map and so need a valid one. */
export function requireDoc(current: CurrentMap): ZoneMapDoc {
  if (current.problem !== null) throw current.problem;
  if (current.doc === null)
    throw new ZoneMapNotFoundError('the store holds no zone map yet; start with `zonegate map apply FILE`');
  return current.doc;
}

export async function readCurrent(store: ZoneMapStore): Promise<CurrentMap> {
  const raw = await store.readRaw();
  const version = raw.version === null ? null : Number(raw.version);
  if (raw.json === null)
    return { doc: null, version: Number.isSafeInteger(version) ? version : null, problem: null };
  try {
    return {
      doc: decodeStoredMap(raw.version, raw.json, `zone map in ${store.description}`),
      version,
      problem: null,
    };
  } catch (err) {
    if (err instanceof InvalidZoneMapError || err instanceof DocumentReadError)
      return { doc: null, version, problem: err };
    throw err;
  }
}

export interface ChangeOptions {
  readonly maxMovePercent: number;
  readonly force: boolean;
}

/** A change computed against the store, not yet written: everything a caller shows first. */
export interface PreparedChange {
  /** Recorded in history, e.g. `zone down rz03`. */
  readonly action: string;
  readonly current: CurrentMap;
  /** The version the compare-and-set expects to find. */
  readonly expected: number | null;
  readonly nextVersion: number;
  /** The validated next document, already at `nextVersion`. */
  readonly doc: ZoneMapDoc;
  readonly radius: BlastRadius;
  /** Guard-rail violations (a non-empty list refuses the change unless forced). */
  readonly violations: readonly string[];
  /** The store already holds this map: nothing to write. */
  readonly noop: boolean;
  /** Refused by the guard rails and not forced. */
  readonly refused: boolean;
}

/**
 * Reads the store, builds the next map, validates and compiles it exactly as a gateway
 * will, and measures its blast radius and guard rails. Writes nothing. Throws the typed
 * errors (invalid result, store down) that callers map to exit codes or answers.
 */
export async function prepareChange(
  store: ZoneMapStore,
  plan: ChangePlan,
  options: ChangeOptions,
): Promise<PreparedChange> {
  const current = await readCurrent(store);
  const expected = plan.basedOn?.(current) ?? current.version;
  const nextVersion = Math.max(current.version ?? 0, current.doc?.version ?? 0) + 1;
  const built = withVersion(await plan.build(current, store), nextVersion);
  const checked = validateZoneMap(built);
  if (!checked.ok) throw new InvalidZoneMapError(checked.problems, `the result of '${plan.action}'`);
  const next = compileZoneMap(checked.doc);
  const prev: CompiledZoneMap | null = current.doc === null ? null : compileZoneMap(current.doc);
  const radius = blastRadius(prev, next);
  const violations = guardRailViolations(radius, { maxMovePercent: options.maxMovePercent });
  return {
    action: plan.action,
    current,
    expected,
    nextVersion,
    doc: checked.doc,
    radius,
    violations,
    noop: prev !== null && radius.changes.length === 0 && current.problem === null,
    refused: violations.length > 0 && !options.force,
  };
}

/** Who wrote a change and why; extra fields (a drill's id and plan) go into history as well. */
export type ChangeMeta = Omit<HistoryWrite, 'action' | 'summary'>;

/** Writes a prepared change with its compare-and-set; ZoneMapConflictError if the store moved. */
export async function commitChange(
  store: ZoneMapStore,
  change: PreparedChange,
  meta: ChangeMeta,
): Promise<void> {
  await writeZoneMap(store, change.doc, change.expected, {
    ...meta,
    action: change.action,
    summary: summarizeBlastRadius(change.radius),
  });
}

/** What a CLI write did, as `--json` prints it: one object a drill script can parse. */
export interface ChangeReport {
  readonly action: string;
  readonly store: string;
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly dryRun: boolean;
  /** Why the stored map could not be compared with (it is invalid), else null. */
  readonly storedMapProblem: string | null;
  readonly blastRadius: BlastRadius;
  readonly violations: readonly string[];
  readonly forced: boolean;
  readonly noop: boolean;
  readonly refused: boolean;
  readonly written: boolean;
  /** Set when written: who and why, as recorded in the history. */
  readonly who: string | null;
  readonly reason: string;
  /** ZG_ERR_DRILL_REFUSED when refused, else null. */
  readonly error: string | null;
}

function changeReport(
  change: PreparedChange,
  flags: ChangeFlags,
  store: ZoneMapStore,
  outcome: { written: boolean; who: string | null; error: string | null },
): ChangeReport {
  return {
    action: change.action,
    store: store.description,
    fromVersion: change.current.version,
    toVersion: change.nextVersion,
    dryRun: flags.dryRun,
    storedMapProblem: change.current.problem?.message ?? null,
    blastRadius: change.radius,
    violations: change.violations,
    forced: change.violations.length > 0 && flags.force,
    noop: change.noop,
    refused: change.refused,
    reason: flags.reason,
    ...outcome,
  };
}

/**
 * The CLI's flow of every write: prepare, print the blast radius (or, with --json, one
 * ChangeReport), honour the guard rails, then (unless --dry-run) compare-and-set. Takes
 * ownership of `store` and closes it. Returns the exit code; throws the typed errors main()
 * maps (invalid map → 2, conflict / store down → 1).
 */
export async function runChange(
  store: ZoneMapStore,
  flags: ChangeFlags,
  plan: ChangePlan,
  io: CliIo,
): Promise<number> {
  try {
    const change = await prepareChange(store, plan, flags);
    const { current, nextVersion, radius, violations } = change;
    const json = (written: boolean, who: string | null, error: string | null): void =>
      io.out(JSON.stringify(changeReport(change, flags, store, { written, who, error }), null, 2));
    if (!flags.json) {
      io.out(
        `${change.action}: version ${current.version ?? 'none'} -> ${nextVersion}` +
          `${flags.dryRun ? ' (dry run)' : ''} on ${store.description}`,
      );
      if (current.problem !== null) {
        io.out(
          `note: the stored version ${current.version ?? '?'} is invalid, so there is nothing to compare with:`,
        );
        io.out(`  ${current.problem.message.split('\n').join('\n  ')}`);
      }
      for (const line of formatBlastRadius(radius)) io.out(line);
    }
    if (change.noop) {
      if (flags.json) json(false, null, null);
      else io.out('nothing to change; nothing written');
      return 0;
    }
    if (change.refused) {
      const refused = new DrillRefusedError(violations);
      if (flags.json) json(false, null, refused.code);
      io.err(`${refused.message}\n[${refused.code}]`);
      return 2;
    }
    if (violations.length > 0 && !flags.json)
      io.out(`guard rails overridden by --force:\n${violations.map((v) => `  - ${v}`).join('\n')}`);
    if (flags.dryRun) {
      if (flags.json) json(false, null, null);
      else io.out('dry run: nothing written');
      return 0;
    }
    const who = whoRan();
    await commitChange(store, change, { who, reason: flags.reason });
    if (flags.json) json(true, who, null);
    else
      io.out(
        `written: version ${nextVersion} (was ${current.version ?? 'none'}) by ${who}${flags.reason === '' ? '' : `: ${flags.reason}`}`,
      );
    return 0;
  } finally {
    await store.close();
  }
}
