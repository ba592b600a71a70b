import type { Plan, PLAN_VERSION } from './types.js';

/** Plans for several engines, made in one run (`--host` given more than once). */
export interface PlanSet {
  kind: 'imgsweep-plan-set';
  /** The same as its plans'. */
  version: typeof PLAN_VERSION;
  plans: Plan[];
}

export function isPlanSet(value: unknown): value is PlanSet {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'imgsweep-plan-set';
}
