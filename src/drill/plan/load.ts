import { compileSchema, loadPolicySchema, type SchemaCheck } from '../../core/schema.js';
import type { Problem } from '../../core/errors.js';
import { parseDocument, readDocumentFile } from '../../zonemap/index.js';
import { InvalidDrillPlanError } from '../errors.js';
import type { DrillPlan } from './plan.js';

// Compiled on first use, not at import: every CLI command imports this module, few run plans.
// loadPolicySchema resolves `../../policies/` from the URL it is given: hand it this folder's parent.
let checkSchema: SchemaCheck | null = null;
function planSchema(): SchemaCheck {
  checkSchema ??= compileSchema(
    loadPolicySchema('drill-plan.schema.json', new URL('..', import.meta.url).href),
  );
  return checkSchema;
}

/** Checks the schema cannot express; every problem at once. */
function semanticProblems(plan: DrillPlan): Problem[] {
  const out: Problem[] = [];
  const changes = plan.steps.filter((s) =>
    ['zone', 'idc', 'city', 'weight', 'shards', 'release'].includes(s.kind),
  );
  if (changes.length === 0) out.push({ path: 'steps', message: 'has no step that changes the zone map' });
  plan.steps.forEach((s, i) => {
    if (
      s.kind === 'release' &&
      s.green === undefined &&
      s.greenShards === undefined &&
      s.greenUids === undefined
    ) {
      out.push({ path: `steps[${i}]`, message: 'a release step needs green, greenShards and/or greenUids' });
    }
    if (s.kind === 'check' && s.windowMs === 0 && s.slos.length > 0) {
      out.push({ path: `steps[${i}].windowMs`, message: 'must be > 0: an SLO is read over a window' });
    }
  });
  return out;
}

/** Parses and validates a plan (YAML or JSON text); InvalidDrillPlanError lists every problem. */
export function loadDrillPlanText(text: string, sourceName: string): DrillPlan {
  const doc = parseDocument(text, sourceName);
  // ajv adds a bare 'must match "then" schema' for every step whose own problems it listed.
  const problems = planSchema()(doc).filter((p) => p.message !== 'must match "then" schema');
  if (problems.length > 0) throw new InvalidDrillPlanError(problems, `drill plan ${sourceName}`);
  const plan = doc as DrillPlan;
  const more = semanticProblems(plan);
  if (more.length > 0) throw new InvalidDrillPlanError(more, `drill plan ${sourceName}`);
  return plan;
}

export async function loadDrillPlanFile(path: string): Promise<DrillPlan> {
  return loadDrillPlanText(await readDocumentFile(path), path);
}
