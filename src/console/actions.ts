/**
 * The page's actions, checked and turned into the CLI's own change plans (src/drill/plans.ts):
 * a change made from the console records the same action text and builds the same map as the
 * command an SRE would have typed.
 */
import { UsageError } from '../core/errors.js';
import {
  releasePlan,
  rollbackPlan,
  shardsMovePlan,
  statusPlan,
  zoneWeightPlan,
  type ChangePlan,
} from '../drill/index.js';
import type { Status } from '../zonemap/index.js';
import type { ConsoleAction } from './view.js';

const STATUSES: readonly string[] = ['up', 'drain', 'down'];
const NOUNS: readonly string[] = ['zone', 'idc', 'city'];
/** Names in the map are short identifiers; anything else is refused before it reaches a message. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new UsageError(`action.${key} must be a string`);
  return v.trim();
}

function optStr(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new UsageError(`action.${key} must be a string`);
  return v.trim();
}

function name(o: Record<string, unknown>, key: string): string {
  const v = str(o, key);
  if (!NAME.test(v))
    throw new UsageError(`action.${key} is not a zone, IDC or city name: '${v.slice(0, 64)}'`);
  return v;
}

/** The comma-separated lists of the CLI (`--green-uids a,b`); an empty string is the empty list. */
function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Checks an action from a request body (untrusted JSON). */
export function parseAction(v: unknown): ConsoleAction {
  if (typeof v !== 'object' || v === null) throw new UsageError('action must be an object');
  const o = v as Record<string, unknown>;
  switch (o['kind']) {
    case 'status': {
      const noun = str(o, 'noun');
      const status = str(o, 'status');
      if (!NOUNS.includes(noun)) throw new UsageError('action.noun must be zone, idc or city');
      if (!STATUSES.includes(status)) throw new UsageError('action.status must be up, drain or down');
      return {
        kind: 'status',
        noun: noun as 'zone' | 'idc' | 'city',
        name: name(o, 'name'),
        status: status as Status,
      };
    }
    case 'weight':
      return { kind: 'weight', zone: name(o, 'zone'), weight: str(o, 'weight') };
    case 'shards':
      return { kind: 'shards', shards: str(o, 'shards'), to: name(o, 'to') };
    case 'release': {
      const green = optStr(o, 'green');
      const greenShards = optStr(o, 'greenShards');
      const greenUids = optStr(o, 'greenUids');
      return {
        kind: 'release',
        zone: name(o, 'zone'),
        ...(green === undefined || green === '' ? {} : { green }),
        ...(greenShards === undefined ? {} : { greenShards }),
        ...(greenUids === undefined ? {} : { greenUids }),
      };
    }
    case 'rollback': {
      const version = o['version'];
      if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
        throw new UsageError('action.version must be a positive integer');
      return { kind: 'rollback', version };
    }
    default:
      throw new UsageError('action.kind must be status, weight, shards, release or rollback');
  }
}

/** The CLI's change plan for an action. */
export function planFor(a: ConsoleAction): ChangePlan {
  switch (a.kind) {
    case 'status':
      return statusPlan(a.noun, a.name, a.status);
    case 'weight':
      return zoneWeightPlan(a.zone, a.weight);
    case 'shards':
      return shardsMovePlan(list(a.shards) ?? [], a.to);
    case 'release': {
      const greenShards = list(a.greenShards);
      const greenUids = list(a.greenUids);
      return releasePlan(a.zone, {
        ...(a.green === undefined ? {} : { green: a.green }),
        ...(greenShards === undefined ? {} : { greenShards }),
        ...(greenUids === undefined ? {} : { greenUids }),
      });
    }
    case 'rollback':
      return rollbackPlan(a.version);
  }
}
