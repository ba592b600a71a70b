/**
 * imgsweep as a library: the same stages the command line runs.
 * policy file -> Policy -> Inventory -> Plan -> ApplyReport.
 */
export { loadPolicyFile, parsePolicy, type PolicyResult } from './policy/load.js';
export { formatProblem, type PolicyProblem } from './policy/problems.js';
export type { Policy, Rule, Selector } from './policy/types.js';

export type { ContainerRecord, EngineIdentity, ImageRecord, Inventory, UsageEntry } from './inventory/types.js';
export { parseInventory, readInventoryFile, serializeInventory, writeInventoryFile } from './inventory/snapshot.js';
export { readInventory } from './inventory/read.js';
export { attachLayers } from './inventory/layers.js';

export { evaluatePolicy, makePlan, reclaimCandidates, type Evaluation, type PlanInput } from './plan/plan.js';
export { planProblems, readPlanFile } from './plan/plan-file.js';
export type { KeptImage, Plan, PlanAction, PlanSummary } from './plan/types.js';
export type { PlanSet } from './plan/plan-set.js';

export { connectEngine, type ConnectOptions } from './engine/docker.js';
export type { Engine, WriteOutcome } from './engine/engine.js';

export { admitPlan, applyPlan, type ApplyOptions } from './execute/apply.js';
export { verifyPlan } from './execute/verify.js';
export { acquireLock, type Lock } from './execute/lock.js';
export type { ApplyReport, StepResult } from './execute/types.js';

export { foldUsage } from './usage/fold.js';
export { loadUsage, saveUsage } from './usage/store.js';
export { watchUsage } from './usage/watch.js';

export { formatPlanJson, formatPlanMarkdown, formatPlanText } from './report/plan-format.js';
export { formatMetrics } from './report/metrics.js';

export { run } from './cli/main.js';
export * from './errors.js';
