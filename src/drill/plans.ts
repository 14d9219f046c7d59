import { UsageError } from '../core/errors.js';
import type { Status } from '../zonemap/index.js';
import { ZoneMapVersionNotFoundError } from '../zonemap/stores/index.js';
import {
  moveShards,
  setCityStatus,
  setIdcStatus,
  setRelease,
  setZoneStatus,
  setZoneWeight,
} from './mutations.js';
import type { ReleaseChange } from './mutations.js';
import { requireDoc, type ChangePlan } from './run-change.js';

/**
 * The change plans of the drill commands, shared by the CLI and the console so that both
 * record the same action text and build the same next map. Argument checks that both need
 * (a weight is a number, a percentage is 0-100) live here too; they throw UsageError.
 */

export type StatusNoun = 'zone' | 'idc' | 'city';

const SETTERS = { zone: setZoneStatus, idc: setIdcStatus, city: setCityStatus } as const;

/** `zone|idc|city up|drain|down NAME`. */
export function statusPlan(noun: StatusNoun, name: string, status: Status): ChangePlan {
  const set = SETTERS[noun];
  return { action: `${noun} ${status} ${name}`, build: (cur) => set(requireDoc(cur), name, status) };
}

/** `zone weight ZONE N`; `n` is the text the operator typed (recorded as typed). */
export function zoneWeightPlan(zone: string, n: string): ChangePlan {
  const weight = Number(n);
  if (!/^\d+(\.\d+)?$/.test(n) || !Number.isFinite(weight)) {
    throw new UsageError(`weight must be a number ≥ 0 (got '${n}')`);
  }
  return { action: `zone weight ${zone} ${n}`, build: (cur) => setZoneWeight(requireDoc(cur), zone, weight) };
}

/** `shards move RANGE,... --to ZONE`. */
export function shardsMovePlan(specs: readonly string[], to: string): ChangePlan {
  if (specs.length === 0) throw new UsageError('name the shards to move, e.g. 30-34');
  return {
    action: `shards move ${specs.join(',')} --to ${to}`,
    build: (cur) => moveShards(requireDoc(cur), specs, to),
  };
}

export interface ReleaseRequest {
  /** The percentage as typed, e.g. `25`. */
  readonly green?: string;
  readonly greenShards?: readonly string[];
  readonly greenUids?: readonly string[];
}

/** `release ZONE [--green PCT] [--green-shards RANGES] [--green-uids LIST]`. */
export function releasePlan(zone: string, req: ReleaseRequest): ChangePlan {
  const { green: pct, greenShards, greenUids } = req;
  if (pct === undefined && greenShards === undefined && greenUids === undefined) {
    throw new UsageError('say what to release: --green, --green-shards and/or --green-uids');
  }
  const green = pct === undefined ? undefined : Number(pct);
  if (green !== undefined && (!/^\d+(\.\d+)?$/.test(pct ?? '') || green > 100)) {
    throw new UsageError(`--green must be a percentage from 0 to 100 (got '${pct}')`);
  }
  return releaseChangePlan(zone, {
    ...(green === undefined ? {} : { green }),
    ...(greenShards === undefined ? {} : { greenShards }),
    ...(greenUids === undefined ? {} : { greenUids }),
  });
}

/** A release already checked (a plan file's release step, or `releasePlan` after parsing). */
export function releaseChangePlan(zone: string, change: ReleaseChange): ChangePlan {
  const { green, greenShards, greenUids } = change;
  const words = [
    green === undefined ? '' : ` --green ${green}`,
    greenShards === undefined ? '' : ` --green-shards ${greenShards.join(',')}`,
    greenUids === undefined ? '' : ` --green-uids ${greenUids.length} uid(s)`,
  ].join('');
  return { action: `release ${zone}${words}`, build: (cur) => setRelease(requireDoc(cur), zone, change) };
}

/**
 * `map rollback [VERSION]`: writes an earlier version again, as a new version. Without a
 * version, the one the current version replaced (per its history entry); after a map written
 * around the CLI, the newest one written through it.
 */
export function rollbackPlan(wanted: number | undefined): ChangePlan {
  if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 1)) {
    throw new UsageError(`VERSION must be a positive integer (got '${wanted}')`);
  }
  let target = wanted;
  return {
    // A getter: without VERSION the target is only known once build() has read history,
    // and prepareChange reads the action after build() for its output and the history entry.
    get action() {
      return `rollback to ${target ?? 'previous'}`;
    },
    build: async (current, store) => {
      if (target === undefined) {
        const [latest] = await store.history(1);
        const prev = latest?.version === current.version ? latest.previous : (latest?.version ?? null);
        if (prev === null || prev === undefined) {
          throw new ZoneMapVersionNotFoundError(Math.max(0, (current.version ?? 1) - 1), null);
        }
        target = prev;
      }
      return (await store.historyDoc(target)).doc;
    },
  };
}
