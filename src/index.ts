/**
 * imgsweep as a library: the same stages the command line runs.
 * policy file -> Policy -> Inventory -> Plan -> ApplyReport.
 */
export { loadPolicyFile, parsePolicy, type PolicyResult } from './policy/load.js';
export { formatProblem, type PolicyProblem } from './policy/problems.js';
export { formatWarning, type PolicyWarning, type WarningCode } from './policy/warnings.js';
export type { Policy, Rule, Selector } from './policy/types.js';

export type { ContainerRecord, EngineIdentity, ImageRecord, Inventory, UsageEntry } from './inventory/types.js';
export { parseInventory, readInventoryFile, serializeInventory, writeInventoryFile } from './inventory/snapshot.js';
export { readInventory, readLive, type LiveInventory, type LiveOptions } from './live/read.js';
export { attachLayers } from './live/layers.js';
export { planLive, snapshotLive, type LivePlan } from './live/plan.js';

export {
  accountingSkipped,
  evaluatePolicy,
  makePlan,
  reclaimCandidates,
  type Evaluation,
  type PlanInput,
} from './plan/plan.js';
export { planProblems, readPlanFile } from './execute/plan-file.js';
export type { DiskSummary, KeptImage, Plan, PlanAction, PlanSummary } from './plan/types.js';
export type { ContainerRef, KeptReason, KeptWhy, Protection, RefKeptWhy, Refusal } from './plan/reasons.js';
export type { PlanSet } from './plan/plan-set.js';

export { connectEngine, type ConnectOptions } from './engine/docker.js';
export type { Engine, WriteOutcome } from './engine/engine.js';

export { admitPlan, applyPlan, type ApplyOptions } from './execute/apply.js';
export { verifyPlan } from './execute/verify.js';
export { acquireLock, type Lock } from './execute/lock.js';
export type { ApplyReport, StepResult } from './execute/types.js';
export type { StepReason } from './execute/reasons.js';

export { foldUsage } from './usage/fold.js';
export { loadUsage, saveUsage } from './usage/store.js';
export { watchUsage } from './usage/watch.js';

export { formatPlanJson, formatPlanMarkdown, formatPlanText } from './report/plan-format.js';
export { formatMetrics } from './report/metrics.js';

export { run } from './cli/main.js';
export * from './errors.js';
export { formatPlanHtml, imageTimesOf, type HtmlReportInput, type ImageTimes } from './report/html/page.js';
export { diffPlans, type PlanDiff } from './diff/plan-diff.js';
export { formatDiffJson, formatDiffMarkdown, formatDiffText } from './report/diff-format.js';
