import type { BuildCacheRecord, Inventory } from '../inventory/types.js';
import type { DiskPolicy } from '../policy/types.js';
import type { ImageDecision } from './decide.js';
import { compareText, type ImageFacts } from './facts.js';
import { isProtectedRef } from './reasons.js';
import type { DiskGoal, DiskSummary } from './types.js';

/** One layer on disk: a diff on the layer under it. */
interface Layer {
  /** Its place in the tracker's list (a cheap map key). */
  at: number;
  size: number;
  /** Images using it that are not deleted yet. */
  left: number;
  under: Layer | null;
  /** Only on a diff's first layer: its layers on other stacks, by the place of the layer under them. */
  elsewhere?: Map<number, Layer>;
}

/**
 * Tracks bytes freed as images are deleted, counting a shared layer only when its last user goes. A layer is
 * one diff on one stack of diffs below it, as the engines store layers (Docker's chain ID; containers/storage
 * likewise): the same diff on two different bases is two layers on disk, and only a common base stack is
 * shared.
 */
export class ReclaimTracker {
  /** Layers by diff, each found on the first stack it was seen on; other stacks of the diff beside it. */
  private readonly byDiff = new Map<string, Layer>();
  private readonly layers: Layer[] = [];
  freed = 0;

  /**
   * The tracker of these images, or null when any image's layers are not known: the estimate is then
   * unavailable. Image sizes are no substitute: added up, they count every shared layer once per image.
   */
  static of(facts: Map<string, ImageFacts>): ReclaimTracker | null {
    for (const f of facts.values()) if (f.image.layers === undefined) return null;
    return new ReclaimTracker(facts.values());
  }

  private constructor(images: Iterable<ImageFacts>) {
    for (const f of images) {
      let under: Layer | null = null;
      for (const l of f.image.layers!) {
        under = this.layer(under, l.digest) ?? this.add(under, l.digest, l.size);
        under.left++;
      }
    }
  }

  /** Total bytes the images occupy. */
  total(): number {
    return this.layers.reduce((s, u) => s + u.size, 0);
  }

  /** Marks an image deleted and returns the bytes this frees now. */
  remove(f: ImageFacts): number {
    let bytes = 0;
    let under: Layer | null = null;
    for (const l of f.image.layers!) {
      under = this.layer(under, l.digest)!;
      if (--under.left === 0) bytes += under.size;
    }
    this.freed += bytes;
    return bytes;
  }

  /** The layer with diff `digest` on top of `under` (null: at the base). */
  private layer(under: Layer | null, digest: string): Layer | undefined {
    const first = this.byDiff.get(digest);
    return first === undefined || first.under === under ? first : first.elsewhere?.get(under?.at ?? -1);
  }

  private add(under: Layer | null, digest: string, size: number): Layer {
    const layer: Layer = { at: this.layers.length, size, left: 0, under };
    const first = this.byDiff.get(digest);
    if (!first) this.byDiff.set(digest, layer);
    else (first.elsewhere ??= new Map()).set(under?.at ?? -1, layer);
    this.layers.push(layer);
    return layer;
  }
}

/** The build cache's part in a disk budget: what buildCache allows the budget to take, and how it takes it. */
export interface CacheBudget {
  /** The cache's bytes before the run that no image shares (counted toward maxImageBytes). */
  totalBytes: number;
  /** Bytes the buildCache section already frees (its records no image shares). */
  plannedBytes: number;
  /** Records the budget may take, least recently used first. */
  evictable: BuildCacheRecord[];
  taken: Set<string>;
  childrenGone(r: BuildCacheRecord): boolean;
  take(r: BuildCacheRecord): void;
}

export interface Eviction {
  summary: DiskSummary;
  evicted: { decision: ImageDecision; bytes: number }[];
}

interface Goal extends DiskGoal {
  reached: () => boolean;
}

/**
 * Evicts unprotected, unused images in LRU order (ties: oldest created, children first) while over a
 * limit, until the estimate reaches the target. `tracker` already holds the rules' deletions; without one
 * (no exact estimate to be had) nothing is evicted.
 */
export function evictForDisk(
  disk: DiskPolicy,
  inventory: Inventory,
  decisions: Map<string, ImageDecision>,
  tracker: ReclaimTracker | null,
  cache: CacheBudget | null = null,
): Eviction {
  const usageUnmeasured = disk.maxUsage !== null && !inventory.disk;
  const summary = (status: DiskSummary['status'], more: Partial<DiskSummary> = {}): DiskSummary => ({
    status,
    goals: [],
    usageUnmeasured,
    ...(usageUnmeasured
      ? { usageUnmeasuredWhy: inventory.diskUnmeasured ?? 'the inventory holds no disk figures' }
      : {}),
    evicted: 0,
    evictedBytes: 0,
    targetReached: true,
    cause: null,
    ...more,
  });
  const judged = (disk.maxUsage !== null && Boolean(inventory.disk)) || disk.maxImageBytes !== null;
  if (!judged) return { summary: summary('not-evaluated'), evicted: [] };
  if (!tracker)
    return {
      summary: summary('accounting-unavailable', {
        targetReached: false,
        cause: inventory.accountingUnavailable ?? null,
      }),
      evicted: [],
    };

  // Cache bytes the rules' section already removes count as freed from the start.
  let cacheFreed = cache?.plannedBytes ?? 0;
  const goals: Goal[] = [];
  if (disk.maxUsage !== null && inventory.disk) {
    const { usedBytes } = inventory.disk;
    // df's Use%: against what is used plus what ordinary users may still write (root's reserve left out).
    const capacity = diskCapacity(inventory.disk);
    const limit = disk.maxUsage;
    const target = disk.targetUsage ?? limit;
    const before = usedBytes / capacity;
    const { path, totalBytes, availableBytes } = inventory.disk;
    goals.push({
      measure: 'usage',
      before,
      limit,
      target,
      over: before > limit,
      filesystem: { path, usedBytes, availableBytes: availableBytes ?? null, totalBytes },
      reached: () => (usedBytes - tracker.freed - cacheFreed) / capacity <= target,
    });
  }
  if (disk.maxImageBytes !== null) {
    // With a buildCache section, the build cache counts toward the budget as the images do.
    const before = tracker.total() + (cache?.totalBytes ?? 0);
    const limit = disk.maxImageBytes;
    const target = disk.targetImageBytes ?? limit;
    // Judged, like maxUsage, on the state before this run: that is what the plan reports.
    goals.push({
      measure: 'image-bytes',
      before,
      limit,
      target,
      over: before > limit,
      reached: () => before - tracker.freed - cacheFreed <= target,
    });
  }
  const active = goals.filter((g) => g.over);
  const evicted: Eviction['evicted'] = [];
  const done = () => active.every((g) => g.reached());
  // The build cache goes first: records buildCache allows, least recently used first, each once nothing is
  // built on it any more.
  if (active.length > 0 && cache) {
    const left = [...cache.evictable];
    for (let progress = true; progress && !done();) {
      progress = false;
      for (const r of left) {
        if (done()) break;
        if (cache.taken.has(r.id) || !cache.childrenGone(r)) continue;
        cache.take(r);
        cacheFreed += r.size;
        progress = true;
      }
    }
  }
  if (active.length > 0 && !done()) {
    const candidates = [...decisions.values()].filter(evictable).sort((a, b) => lru(a.facts, b.facts));
    const gone = new Set([...decisions.values()].filter((d) => d.deleteRule !== null).map((d) => d.facts.image.id));
    const waiting = new Set<ImageDecision>();
    const evict = (d: ImageDecision) => {
      gone.add(d.facts.image.id);
      evicted.push({ decision: d, bytes: tracker.remove(d.facts) });
      const parent = d.facts.parent && decisions.get(d.facts.parent.image.id);
      if (parent && waiting.has(parent) && childrenGone(parent, gone) && !done()) {
        waiting.delete(parent);
        evict(parent);
      }
    };
    for (const d of candidates) {
      if (done()) break;
      if (childrenGone(d, gone)) evict(d);
      else waiting.add(d);
    }
  }
  return {
    summary: summary(active.length > 0 ? 'over-limit' : 'under-limit', {
      goals: goals.map(({ reached: _reached, ...goal }) => goal),
      evicted: evicted.length,
      evictedBytes: evicted.reduce((s, e) => s + e.bytes, 0),
      ...(cache ? { cacheEvicted: cache.taken.size, cacheEvictedBytes: cacheFreed - cache.plannedBytes } : {}),
      targetReached: active.every((g) => g.reached()),
    }),
    evicted,
  };
}

export function evictable(d: ImageDecision): boolean {
  if (d.immune || d.deleteRule !== null || !d.facts.unused) return false;
  // A reference protected by pattern keeps its image.
  return ![...d.fates.values()].some((f) => f.fate === 'keep' && isProtectedRef(f.why));
}

function childrenGone(d: ImageDecision, gone: Set<string>): boolean {
  return d.facts.children.every((c) => gone.has(c.image.id));
}

function lru(a: ImageFacts, b: ImageFacts): number {
  return (
    a.lastUsedMs - b.lastUsedMs || a.createdMs - b.createdMs || b.depth - a.depth || compareText(a.image.id, b.image.id)
  );
}

/** The size df's Use% is taken against: used + available; a snapshot without availableBytes gives its total. */
export function diskCapacity(disk: { totalBytes: number; usedBytes: number; availableBytes?: number }): number {
  const capacity = disk.availableBytes === undefined ? disk.totalBytes : disk.usedBytes + disk.availableBytes;
  return capacity > 0 ? capacity : disk.totalBytes;
}
