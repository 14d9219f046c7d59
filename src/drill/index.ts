export {
  blastRadius,
  formatBlastRadius,
  summarizeBlastRadius,
  type BlastRadius,
  type ColourShift,
} from './blast-radius.js';
export {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  listOption,
  openStoreFrom,
  storeChoiceFrom,
  storeConfigFrom,
  type ChangeFlags,
  type StoreChoice,
} from './cli-options.js';
export { docChanges } from './doc-changes.js';
export { DrillRefusedError } from './errors.js';
export { DEFAULT_MAX_MOVE_PERCENT, guardRailViolations, type GuardRailOptions } from './guard-rails.js';
export * from './mutations.js';
export {
  commitChange,
  prepareChange,
  readCurrent,
  requireDoc,
  runChange,
  type ChangeMeta,
  type ChangeReport,
  type ChangeOptions,
  type ChangePlan,
  type CurrentMap,
  type PreparedChange,
} from './run-change.js';
export {
  releasePlan,
  rollbackPlan,
  shardsMovePlan,
  statusPlan,
  zoneWeightPlan,
  type ReleaseRequest,
  type StatusNoun,
} from './plans.js';
export { whoRan } from './who.js';
export {
  DrillAbortedError,
  DrillCheckFailedError,
  DrillNotConvergedError,
  InvalidDrillPlanError,
  MetricsScrapeError,
} from './errors.js';
export {
  DEFAULT_STALE_MS,
  classifyGateways,
  judgeFleet,
  waitForConvergence,
  type ConvergeOptions,
  type Convergence,
  type FleetView,
  type GatewayRow,
  type GatewayState,
} from './convergence.js';
