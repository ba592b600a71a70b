import type { Inventory } from '../inventory/types.js';
import type { DiskPolicy } from '../policy/types.js';
import type { ImageDecision } from './decide.js';
import { compareText, type ImageFacts } from './facts.js';
import type { DiskSummary } from './types.js';
import { formatBytes } from '../report/bytes.js';

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
  readonly byLayers: boolean;
  freed = 0;

  constructor(private readonly facts: Map<string, ImageFacts>) {
    const all = [...facts.values()];
    this.byLayers = all.length > 0 && all.every((f) => f.image.layers !== undefined);
    if (!this.byLayers) return;
    for (const f of all) {
      let under: Layer | null = null;
      for (const l of f.image.layers!) {
        under = this.layer(under, l.digest) ?? this.add(under, l.digest, l.size);
        under.left++;
      }
    }
  }

  /** Total bytes the images occupy. */
  total(): number {
    if (this.byLayers) return this.layers.reduce((s, u) => s + u.size, 0);
    let sum = 0;
    for (const f of this.facts.values()) sum += this.own(f);
    return sum;
  }

  /** Marks an image deleted and returns the bytes this frees now. */
  remove(f: ImageFacts): number {
    let bytes = 0;
    if (this.byLayers) {
      let under: Layer | null = null;
      for (const l of f.image.layers!) {
        under = this.layer(under, l.digest)!;
        if (--under.left === 0) bytes += under.size;
      }
    } else bytes = this.own(f);
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

  private own(f: ImageFacts): number {
    return f.parent ? Math.max(0, f.image.size - f.parent.image.size) : f.image.size;
  }
}

export interface Eviction {
  summary: DiskSummary;
  evicted: { decision: ImageDecision; bytes: number }[];
}

/**
 * Evicts unprotected, unused images in LRU order (ties: oldest created, children first) while over a
 * limit, until the estimate reaches the target. `tracker` already holds the rules' deletions.
 */
export function evictForDisk(disk: DiskPolicy, inventory: Inventory, decisions: Map<string, ImageDecision>, tracker: ReclaimTracker, totalBefore: number): Eviction {
  const goals: { measure: 'usage' | 'image-bytes'; over: () => boolean; reached: () => boolean; describe: (evicting: string) => string; before: number; limit: number; target: number }[] = [];
  const notes: string[] = [];
  if (disk.maxUsage !== null) {
    if (!inventory.disk) {
      notes.push('maxUsage not evaluated: the filesystem holding the engine\'s data root cannot be measured here (remote engine, containerd image store or saved inventory without disk data); only maxImageBytes applies');
    } else {
      const { totalBytes, usedBytes } = inventory.disk;
      const limit = disk.maxUsage;
      const target = disk.targetUsage ?? limit;
      const usage = () => (usedBytes - tracker.freed) / totalBytes;
      const before = usedBytes / totalBytes;
      goals.push({
        measure: 'usage',
        before,
        limit,
        target,
        over: () => before > limit,
        reached: () => usage() <= target,
        describe: (evicting) => `disk ${pct(before)} > ${pct(limit)}: ${evicting}, to reach ${pct(target)}`,
      });
    }
  }
  if (disk.maxImageBytes !== null) {
    const limit = disk.maxImageBytes;
    const target = disk.targetImageBytes ?? limit;
    goals.push({
      measure: 'image-bytes',
      before: totalBefore,
      limit,
      target,
      // Judged, like maxUsage, on the state before this run: that is what the message reports.
      over: () => totalBefore > limit,
      reached: () => totalBefore - tracker.freed <= target,
      describe: (evicting) => `images ${formatBytes(totalBefore)} > ${formatBytes(limit)}: ${evicting}, to reach ${formatBytes(target)}`,
    });
  }
  const active = goals.filter((g) => g.over());
  const evicted: Eviction['evicted'] = [];
  if (active.length > 0) {
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
    const done = () => active.every((g) => g.reached());
    for (const d of candidates) {
      if (done()) break;
      if (childrenGone(d, gone)) evict(d);
      else waiting.add(d);
    }
  }
  const bytes = evicted.reduce((s, e) => s + e.bytes, 0);
  const evicting = `evicting ${evicted.length} image${evicted.length === 1 ? '' : 's'}, est. ${formatBytes(bytes)}`;
  const main = active[0] ?? goals[0];
  let message: string;
  if (active.length > 0) {
    message = active.map((g) => g.describe(evicting)).join('; ');
    if (!active.every((g) => g.reached())) message += ' (target not reachable: nothing else may be evicted)';
  } else if (goals.length > 0) {
    message = goals.map((g) => (g.measure === 'usage' ? `disk ${pct(g.before)} <= ${pct(g.limit)}` : `images ${formatBytes(g.before)} <= ${formatBytes(g.limit)}`)).join('; ') + ': nothing to evict';
  } else message = 'disk limits not evaluated';
  if (notes.length) message = `${message}. ${notes.join('. ')}`;
  return {
    summary: {
      evaluated: goals.length > 0,
      message,
      measure: main?.measure ?? null,
      before: main?.before ?? null,
      limit: main?.limit ?? null,
      target: main?.target ?? null,
      evicted: evicted.length,
      evictedBytes: bytes,
    },
    evicted,
  };
}

export function evictable(d: ImageDecision): boolean {
  if (d.immune || d.deleteRule !== null || !d.facts.unused) return false;
  // A reference protected by pattern keeps its image.
  return ![...d.fates.values()].some((f) => f.fate === 'keep' && f.why.includes('(protect.'));
}

function childrenGone(d: ImageDecision, gone: Set<string>): boolean {
  return d.facts.children.every((c) => gone.has(c.image.id));
}

function lru(a: ImageFacts, b: ImageFacts): number {
  return a.lastUsedMs - b.lastUsedMs || a.createdMs - b.createdMs || b.depth - a.depth || compareText(a.image.id, b.image.id);
}

function pct(v: number): string {
  return `${Math.round(v * 1000) / 10}%`;
}
