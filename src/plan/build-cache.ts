import type { BuildCacheRecord } from '../inventory/types.js';
import type { BuildCachePolicy } from '../policy/types.js';
import type { CacheBudget } from './disk.js';
import type { BuildCacheKeptReason, BuildCachePlan, BuildCacheRemoval } from './types.js';

/** A record's last use: LastUsedAt, else CreatedAt (a record never used since it was made). */
export function lastUsedOf(r: BuildCacheRecord): number {
  return Date.parse(r.lastUsedAt ?? r.createdAt);
}

/** Least recently used first; ties: older created, then ID (a stable plan). */
export function lruOrder(a: BuildCacheRecord, b: BuildCacheRecord): number {
  return (
    lastUsedOf(a) - lastUsedOf(b) ||
    Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** Why a record can never go under this policy, or null when it may. */
function immune(r: BuildCacheRecord, policy: BuildCachePolicy): BuildCacheKeptReason | null {
  if (r.inUse) return 'in-use';
  if (r.shared && policy.keepShared) return 'shared';
  if (!(policy.types as string[]).includes(r.type)) return 'type-not-selected';
  return null;
}

/**
 * The build-cache part of a plan. Only unused records ever go: never one a running build uses, nor, with
 * keepShared, one an image shares. unusedFor takes every record not used for that long; keepBytes then takes the
 * least recently used of the rest until the cache (records an image shares left out, as the engine counts what
 * it may prune) is at most keepBytes. `records` null: the engine keeps no build cache imgsweep can read (Podman).
 */
export function planBuildCache(
  policy: BuildCachePolicy,
  records: BuildCacheRecord[] | null | undefined,
  now: number,
  unavailable: string | null,
): BuildCachePlan {
  if (records === null || records === undefined || unavailable !== null)
    return {
      status: records === null ? 'not-applicable' : 'unavailable',
      cause:
        records === null
          ? 'the engine keeps no BuildKit build cache (Podman)'
          : (unavailable ?? 'the inventory does not hold it'),
      keepShared: policy.keepShared,
      remove: [],
      kept: [],
      records: 0,
      bytes: 0,
      totalBytes: 0,
    };
  const remove: BuildCacheRemoval[] = [];
  const kept = new Map<string, BuildCacheKeptReason>();
  const candidates: BuildCacheRecord[] = [];
  for (const r of [...records].sort(lruOrder)) {
    const why = immune(r, policy);
    if (why) kept.set(r.id, why);
    else if (policy.unusedForMs !== null && now - lastUsedOf(r) > policy.unusedForMs)
      remove.push(removal(r, 'unused-for'));
    else candidates.push(r);
  }
  if (policy.keepBytes !== null) {
    const gone = new Set(remove.map((x) => x.id));
    let total = records.reduce((s, r) => s + (r.shared || gone.has(r.id) ? 0 : r.size), 0);
    for (const r of candidates) {
      if (total <= policy.keepBytes) kept.set(r.id, 'within-keep-bytes');
      else {
        remove.push(removal(r, 'keep-bytes'));
        total -= r.size;
      }
    }
  } else for (const r of candidates) kept.set(r.id, 'recently-used');
  const byId = new Map(records.map((r) => [r.id, r]));
  holdParents(remove, kept, records);
  childrenFirst(remove, records);
  return {
    status: 'evaluated',
    cause: null,
    keepShared: policy.keepShared,
    remove,
    kept: [...kept].map(([id, reason]) => ({ ...summaryOf(byId.get(id)!), reason })),
    records: records.length,
    bytes: remove.reduce((s, x) => s + x.size, 0),
    totalBytes: records.reduce((s, r) => s + r.size, 0),
  };
}

/** Records the disk budget may still take, least recently used first: what buildCache allows, not yet removed. */
export function evictableCache(policy: BuildCachePolicy, records: BuildCacheRecord[], plan: BuildCachePlan) {
  const gone = new Set(plan.remove.map((x) => x.id));
  return records.filter((r) => !gone.has(r.id) && immune(r, policy) === null).sort(lruOrder);
}

/** Children before parents: the engine removes a record only once nothing is built on it. */
function childrenFirst(remove: BuildCacheRemoval[], records: BuildCacheRecord[]): void {
  const depth = depthsOf(records);
  remove.sort((a, b) => depth.get(b.id)! - depth.get(a.id)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** What a disk budget may take of the cache: the records buildCache allows, not yet removed, once nothing stays on them. */
export function cacheBudget(policy: BuildCachePolicy, records: BuildCacheRecord[], plan: BuildCachePlan): CacheBudget {
  const gone = new Set(plan.remove.map((x) => x.id));
  const taken = new Set<string>();
  const children = new Map<string, string[]>();
  for (const r of records) for (const p of r.parents) children.set(p, [...(children.get(p) ?? []), r.id]);
  // A record an image shares is that image's layer: its bytes are counted with the images, and removing it frees
  // none of them. So the budget counts, and takes, only the private records.
  const privateBytes = (ids: Set<string> | null) =>
    records.reduce((s, r) => s + (r.shared || (ids !== null && !ids.has(r.id)) ? 0 : r.size), 0);
  return {
    totalBytes: privateBytes(null),
    plannedBytes: privateBytes(gone),
    evictable: evictableCache(policy, records, plan).filter((r) => !r.shared),
    taken,
    childrenGone: (r) => (children.get(r.id) ?? []).every((c) => gone.has(c) || taken.has(c)),
    take: (r) => taken.add(r.id),
  };
}

/** The cache plan with the records a disk budget took added (reason "disk"), children still first. */
export function withDiskRemovals(
  plan: BuildCachePlan,
  records: BuildCacheRecord[],
  taken: Set<string>,
): BuildCachePlan {
  if (taken.size === 0) return plan;
  const remove = [...plan.remove, ...records.filter((r) => taken.has(r.id)).map((r) => removal(r, 'disk'))];
  childrenFirst(remove, records);
  return {
    ...plan,
    remove,
    kept: plan.kept.filter((k) => !taken.has(k.id)),
    bytes: remove.reduce((s, x) => s + x.size, 0),
  };
}

/** A record some kept record is built on stays too, and so on down its parents. */
function holdParents(
  remove: BuildCacheRemoval[],
  kept: Map<string, BuildCacheKeptReason>,
  records: BuildCacheRecord[],
): void {
  const parentsOf = new Map(records.map((r) => [r.id, r.parents]));
  const planned = new Set(remove.map((x) => x.id));
  const stack = [...kept.keys()];
  while (stack.length > 0) {
    for (const p of parentsOf.get(stack.pop()!) ?? []) {
      if (!planned.delete(p)) continue;
      kept.set(p, 'parent-of-kept');
      stack.push(p);
    }
  }
  for (let i = remove.length - 1; i >= 0; i--) if (!planned.has(remove[i]!.id)) remove.splice(i, 1);
}

/** How many records lie under each one (0: none), for children-first order. */
function depthsOf(records: BuildCacheRecord[]): Map<string, number> {
  const parentsOf = new Map(records.map((r) => [r.id, r.parents]));
  const depth = new Map<string, number>();
  const of = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle the engine should never report: stop rather than loop
    seen.add(id);
    const d = Math.max(-1, ...(parentsOf.get(id) ?? []).filter((p) => parentsOf.has(p)).map((p) => of(p, seen))) + 1;
    depth.set(id, d);
    return d;
  };
  for (const r of records) of(r.id, new Set());
  return depth;
}

function summaryOf(r: BuildCacheRecord) {
  return {
    id: r.id,
    type: r.type,
    description: r.description,
    size: r.size,
    lastUsedAt: new Date(lastUsedOf(r)).toISOString(),
  };
}

export function removal(r: BuildCacheRecord, reason: BuildCacheRemoval['reason']): BuildCacheRemoval {
  return { ...summaryOf(r), reason };
}
