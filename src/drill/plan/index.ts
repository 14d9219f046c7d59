export { loadDrillPlanFile, loadDrillPlanText } from './load.js';
export {
  CHANGE_KINDS,
  PLAN_DEFAULTS,
  isChangeStep,
  type ChangeStep,
  type DrillPlan,
  type Guards,
  type Slo,
  type Step,
} from './plan.js';
export { parsePromText, PromTextError, type Sample } from './prom-text.js';
export {
  evaluateSlo,
  figures,
  increase,
  metricsTargets,
  scrapeAll,
  type Figures,
  type Scrape,
  type SloResult,
} from './checks.js';
export { runDrill, type DrillEvent, type RunDrillOptions } from './runner.js';
export {
  renderHtml,
  renderMarkdown,
  renderTimelineSvg,
  writeReports,
  type DrillReport,
  type RollbackRecord,
  type StepRecord,
} from './report.js';
export { changePlanFor, describeStep } from './steps.js';
