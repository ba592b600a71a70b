import type { Engine } from '../engine/engine.js';
import type { BuildCacheRecord } from '../inventory/types.js';
import { lastUsedOf } from '../plan/build-cache.js';
import type { BuildCachePlan, BuildCacheRemoval } from '../plan/types.js';
import type { StopCause } from './reasons.js';

/** Why a planned build-cache removal did not happen, or what went wrong. */
export type CacheStepReason =
  | { code: 'gone' }
  | { code: 'in-use' }
  | { code: 'now-shared' }
  | { code: 'used-since-plan'; lastUsedAt: string }
  | { code: 'has-children'; children: string[] }
  | { code: 'not-removed' }
  | { code: 'removed-more'; others: string[] }
  | { code: 'check-failed'; message: string }
  | { code: 'engine-error'; message: string }
  | { code: 'not-started'; cause: StopCause };

export interface CacheStepResult {
  record: BuildCacheRemoval;
  status: 'done' | 'skipped' | 'failed';
  reason: CacheStepReason | null;
  at: string;
  ms: number;
  /** What the engine said it freed for this record. */
  reclaimed: number;
}

export interface CacheRunSummary {
  steps: number;
  removed: number;
  skipped: number;
  failed: number;
  /** The plan's sizes of the records removed. */
  bytesEstimated: number;
  /** The engine's SpaceReclaimed, added up. */
  bytesReclaimed: number;
  /** Records that went during the run that no request of this run removed (another prune, a GC). */
  othersGone: number;
}

export interface CacheRunOptions {
  keepShared: boolean;
  clock: () => number;
  stop: () => StopCause | null;
  onStep?: (step: CacheStepResult) => void;
}

/**
 * Removes exactly the planned build-cache records, children first, one request each. The cache is read again
 * first: a record now in use (a build running), shared with an image (keepShared), used since the plan, or with
 * a record still built on it is skipped. Every answer must name only its record; one that names more stops the
 * rest. Afterwards the cache is read again, to say whether anything else went meanwhile.
 */
export async function removeBuildCache(
  engine: Engine,
  plan: BuildCachePlan,
  o: CacheRunOptions,
): Promise<{ steps: CacheStepResult[]; summary: CacheRunSummary }> {
  const steps: CacheStepResult[] = [];
  const record = (
    r: BuildCacheRemoval,
    status: CacheStepResult['status'],
    reason: CacheStepReason | null,
    t0: number,
    reclaimed = 0,
  ) => {
    const step = { record: r, status, reason, at: new Date(o.clock()).toISOString(), ms: o.clock() - t0, reclaimed };
    steps.push(step);
    o.onStep?.(step);
  };
  let before: Map<string, BuildCacheRecord> | null = null;
  let readError: string | null = null;
  try {
    before = await readCache(engine);
  } catch (error) {
    readError = (error as Error).message;
  }
  const removed = new Set<string>();
  let halted: StopCause | null = null;
  let broken = false;
  for (const r of plan.remove) {
    const t0 = o.clock();
    halted ??= o.stop();
    if (halted) {
      record(r, 'skipped', { code: 'not-started', cause: halted }, t0);
      continue;
    }
    if (before === null || broken) {
      record(
        r,
        'skipped',
        { code: 'check-failed', message: readError ?? 'an earlier removal took more than its record' },
        t0,
      );
      continue;
    }
    const now = before.get(r.id);
    const children = [...before.values()]
      .filter((c) => c.parents.includes(r.id) && !removed.has(c.id))
      .map((c) => c.id);
    const reason: CacheStepReason | null = !now
      ? { code: 'gone' }
      : now.inUse
        ? { code: 'in-use' }
        : o.keepShared && now.shared
          ? { code: 'now-shared' }
          : lastUsedOf(now) > Date.parse(r.lastUsedAt)
            ? { code: 'used-since-plan', lastUsedAt: new Date(lastUsedOf(now)).toISOString() }
            : children.length > 0
              ? { code: 'has-children', children }
              : null;
    if (reason) {
      record(r, 'skipped', reason, t0);
      continue;
    }
    try {
      const out = await engine.pruneBuildCacheRecord(r.id, o.keepShared);
      const others = out.deleted.filter((id) => id !== r.id);
      if (others.length > 0) {
        broken = true;
        for (const id of out.deleted) removed.add(id);
        record(r, 'failed', { code: 'removed-more', others }, t0, out.reclaimed);
      } else if (out.deleted.includes(r.id)) {
        removed.add(r.id);
        record(r, 'done', null, t0, out.reclaimed);
      } else record(r, 'skipped', { code: 'not-removed' }, t0);
    } catch (error) {
      record(r, 'failed', { code: 'engine-error', message: (error as Error).message }, t0);
    }
  }
  let othersGone = 0;
  if (before !== null && removed.size > 0) {
    const after = await readCache(engine).catch(() => null);
    if (after) othersGone = [...before.keys()].filter((id) => !after.has(id) && !removed.has(id)).length;
  }
  const done = steps.filter((s) => s.status === 'done');
  return {
    steps,
    summary: {
      steps: steps.length,
      removed: done.length,
      skipped: steps.filter((s) => s.status === 'skipped').length,
      failed: steps.filter((s) => s.status === 'failed').length,
      bytesEstimated: done.reduce((n, s) => n + s.record.size, 0),
      bytesReclaimed: steps.reduce((n, s) => n + s.reclaimed, 0),
      othersGone,
    },
  };
}

async function readCache(engine: Engine): Promise<Map<string, BuildCacheRecord>> {
  const df = await engine.diskUsage();
  return new Map((df?.buildCache ?? []).map((r) => [r.id, r]));
}
