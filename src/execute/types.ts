import type { PlanAction } from '../plan/types.js';
import type { CacheRunSummary, CacheStepResult } from './build-cache.js';
import type { StepReason } from './reasons.js';

/** unknown: the request failed in transport and no look could tell whether it happened (the next run settles it). */
export type StepStatus = 'done' | 'skipped' | 'failed' | 'unknown';

export interface StepResult {
  /** Position of the action in the plan. */
  index: number;
  action: PlanAction;
  status: StepStatus;
  /** Why it was skipped or failed, or what a done step confirmed (null: done, nothing to add). */
  reason: StepReason | null;
  /** The goal of the step holds afterwards (reference gone, container gone, image gone): later steps may rely on it. */
  clear: boolean;
  at: string;
  ms: number;
  /** delete: IDs the engine reported as deleted (the image and its layers). */
  deleted?: string[];
}

export interface ApplySummary {
  steps: number;
  done: number;
  skipped: number;
  failed: number;
  unknown: number;
  deleted: number;
  untagged: number;
  containersRemoved: number;
  /** Estimated bytes of the images actually deleted; null when the plan has no estimate. */
  bytesEstimated: number | null;
  /** The plan's estimate: "layers" (exact, shared layers counted once) or "unavailable". */
  estimate: 'layers' | 'unavailable';
  /** Bytes the engine's own accounting (/system/df layer total) shrank by, when it reports one. */
  bytesActual: number | null;
}

export interface ApplyReport {
  /** The build cache's part of the run, when the plan removes build-cache records. */
  buildCache?: { steps: CacheStepResult[]; summary: CacheRunSummary };
  engine: { key: string; name: string; host: string };
  policy: { name: string | null; sha256: string };
  planCreatedAt: string;
  startedAt: string;
  finishedAt: string;
  steps: StepResult[];
  summary: ApplySummary;
}
