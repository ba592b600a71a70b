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
  /** How long the request that removed it took (records go in batches), or the check that skipped it. */
  ms: number;
}

export interface CacheRunSummary {
  steps: number;
  removed: number;
  skipped: number;
  failed: number;
  /** The plan's sizes of the records removed. */
  bytesEstimated: number;
  /** The engine's SpaceReclaimed, added up over the requests. */
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
 * Records named in one request. Every prune request costs the engine a fixed part (a walk of its cache, a garbage
 * collection) and, for each record it examines, compiling the `id` filter's expression again, which grows with the
 * records named. 25 was the fastest size measured, in deep chains and in wide caches (bench/build-cache-apply).
 */
const BATCH = 25;

/**
 * Removes exactly the planned build-cache records, children first, in requests that name them (and match no other
 * record). The cache is read again first: a record now in use (a build running), shared with an image
 * (keepShared), used since the plan, or with a record built on it that is not removed too is skipped. Every
 * answer must name only records its request named; one that names more stops the rest. Afterwards the cache is
 * read again, to say whether anything else went meanwhile.
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
  ) => {
    const step = { record: r, status, reason, at: new Date(o.clock()).toISOString(), ms: o.clock() - t0 };
    steps.push(step);
    o.onStep?.(step);
  };
  const t0 = o.clock();
  let before: Map<string, BuildCacheRecord> | null = null;
  let readError: string | null = null;
  try {
    before = await readCache(engine);
  } catch (error) {
    readError = (error as Error).message;
  }
  let halted = o.stop();
  if (halted || before === null) {
    for (const r of plan.remove) {
      if (halted) record(r, 'skipped', { code: 'not-started', cause: halted }, t0);
      else record(r, 'skipped', { code: 'check-failed', message: readError ?? '' }, t0);
    }
    return { steps, summary: summaryOf(steps, 0, 0) };
  }
  const batch = checkAgain(plan.remove, before, o.keepShared, (r, reason) => record(r, 'skipped', reason, t0));

  const removed = new Set<string>();
  const uncertain = new Set<string>();
  let reclaimed = 0;
  let broken: string | null = null;
  for (let i = 0; i < batch.length; i += BATCH) {
    const chunk = batch.slice(i, i + BATCH);
    const c0 = o.clock();
    halted ??= o.stop();
    if (halted || broken) {
      for (const r of chunk) {
        if (halted) record(r, 'skipped', { code: 'not-started', cause: halted }, c0);
        else record(r, 'skipped', { code: 'check-failed', message: broken ?? '' }, c0);
      }
      continue;
    }
    try {
      const out = await engine.pruneBuildCacheRecords(
        chunk.map((r) => r.id),
        o.keepShared,
      );
      reclaimed += out.reclaimed;
      for (const id of out.deleted) removed.add(id);
      const named = new Set(chunk.map((r) => r.id));
      const others = out.deleted.filter((id) => !named.has(id));
      if (others.length > 0) broken = 'an earlier removal took more than the records it named';
      for (const r of chunk) {
        if (others.length > 0) record(r, 'failed', { code: 'removed-more', others }, c0);
        else if (removed.has(r.id)) record(r, 'done', null, c0);
        else record(r, 'skipped', { code: 'not-removed' }, c0);
      }
    } catch (error) {
      for (const r of chunk) {
        uncertain.add(r.id);
        record(r, 'failed', { code: 'engine-error', message: (error as Error).message }, c0);
      }
    }
  }
  let othersGone = 0;
  if (removed.size > 0 || uncertain.size > 0) {
    const after = await readCache(engine).catch(() => null);
    if (after) {
      othersGone = [...before.keys()].filter((id) => !after.has(id) && !removed.has(id) && !uncertain.has(id)).length;
    }
  }
  return { steps, summary: summaryOf(steps, reclaimed, othersGone) };
}

/**
 * The planned records that may still go, as the cache is now, in plan order; `skip` is told of the others. A
 * record with a record built on it goes only if that one goes too (the engine removes a record only once nothing
 * is built on it): so skipping one can skip its parents, up the chain.
 */
function checkAgain(
  planned: BuildCacheRemoval[],
  now: Map<string, BuildCacheRecord>,
  keepShared: boolean,
  skip: (r: BuildCacheRemoval, reason: CacheStepReason) => void,
): BuildCacheRemoval[] {
  const go = new Map<string, BuildCacheRemoval>();
  for (const r of planned) {
    const cur = now.get(r.id);
    const reason: CacheStepReason | null = !cur
      ? { code: 'gone' }
      : cur.inUse
        ? { code: 'in-use' }
        : keepShared && cur.shared
          ? { code: 'now-shared' }
          : lastUsedOf(cur) > Date.parse(r.lastUsedAt)
            ? { code: 'used-since-plan', lastUsedAt: new Date(lastUsedOf(cur)).toISOString() }
            : null;
    if (reason) skip(r, reason);
    else go.set(r.id, r);
  }
  const children = new Map<string, string[]>();
  for (const rec of now.values()) {
    for (const parent of rec.parents) children.set(parent, [...(children.get(parent) ?? []), rec.id]);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const r of go.values()) {
      const staying = (children.get(r.id) ?? []).filter((id) => !go.has(id));
      if (staying.length === 0) continue;
      go.delete(r.id);
      skip(r, { code: 'has-children', children: staying });
      changed = true;
    }
  }
  return planned.filter((r) => go.has(r.id));
}

function summaryOf(steps: CacheStepResult[], bytesReclaimed: number, othersGone: number): CacheRunSummary {
  const done = steps.filter((s) => s.status === 'done');
  return {
    steps: steps.length,
    removed: done.length,
    skipped: steps.filter((s) => s.status === 'skipped').length,
    failed: steps.filter((s) => s.status === 'failed').length,
    bytesEstimated: done.reduce((n, s) => n + s.record.size, 0),
    bytesReclaimed,
    othersGone,
  };
}

async function readCache(engine: Engine): Promise<Map<string, BuildCacheRecord>> {
  const df = await engine.diskUsage();
  return new Map((df?.buildCache ?? []).map((r) => [r.id, r]));
}
