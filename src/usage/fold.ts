import type { EngineEvent } from '../engine/engine.js';
import { normalizedText, parseReference } from '../inventory/reference.js';
import { isRunning, type Inventory, type UsageEntry } from '../inventory/types.js';

/** Container events that show an image being used. */
const USE_ACTIONS = new Set([
  'create',
  'start',
  'restart',
  'die',
  'stop',
  'kill',
  'exec_create',
  'exec_start',
  'attach',
]);

export type UsageMap = Record<string, UsageEntry>;

function later(entry: UsageEntry, time: string, source: string, nowIso: string): void {
  // Never in the future (clock skew, --now in the past): last-used never moves back, so it would stick.
  if (time > nowIso) time = nowIso;
  if (Date.parse(time) > Date.parse(entry.lastUsed)) {
    entry.lastUsed = time;
    entry.source = source;
  }
}

/** Finds the image an event names: by ID, or by the reference it was started from. */
/** Finds the images events name: by ID, by container, by the reference or the ID prefix they were started from. */
class EventImages {
  private byRef: Map<string, string> | null = null;
  private sortedIds: string[] | null = null;
  constructor(
    private readonly images: Pick<Inventory, 'images'>['images'],
    private readonly byContainer: Map<string, string>,
  ) {}

  find(e: EngineEvent): string | null {
    if (e.imageId) return e.imageId;
    const fromContainer = this.byContainer.get(e.containerId);
    if (fromContainer) return fromContainer;
    if (!e.image) return null;
    // `docker run 3e207b409db3`: the event carries the ID prefix the user typed.
    const hex = e.image.replace(/^sha256:/, '');
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const hit = this.uniquePrefix(`sha256:${hex}`);
      if (hit) return hit;
    }
    try {
      return this.refs().get(normalizedText(parseReference(e.image))) ?? null;
    } catch {
      return null;
    }
  }

  /** Built on first need: most runs see no event that names an image this way. */
  private refs(): Map<string, string> {
    if (!this.byRef) {
      this.byRef = new Map();
      for (const image of this.images)
        for (const r of image.repoTags) this.byRef.set(normalizedText(parseReference(r)), image.id);
    }
    return this.byRef;
  }

  private uniquePrefix(prefix: string): string | null {
    this.sortedIds ??= this.images.map((i) => i.id).sort();
    const ids = this.sortedIds;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const first = ids[lo];
    if (first === undefined || !first.startsWith(prefix)) return null;
    return ids[lo + 1]?.startsWith(prefix) ? null : first;
  }
}

/**
 * Folds what this run sees into the usage record (pure: `now` is passed in). An image never seen before
 * counts as used when first seen; any container, running or stopped, marks its image used now; recent
 * events (containers run and removed since the last run, `docker run --rm`) move last-used forward.
 * Entries of images that no longer exist are dropped.
 */
export function foldUsage(
  previous: UsageMap,
  inventory: Pick<Inventory, 'images' | 'containers'>,
  events: readonly EngineEvent[],
  now: number,
): UsageMap {
  const nowIso = new Date(now).toISOString();
  const next: UsageMap = {};
  for (const image of inventory.images) {
    const old = previous[image.id];
    next[image.id] = old ? { ...old } : { firstSeen: nowIso, lastUsed: nowIso, source: 'first seen' };
  }
  const byContainer = new Map<string, string>();
  for (const c of inventory.containers) {
    byContainer.set(c.id, c.imageId);
    for (const id of new Set([c.imageId, ...c.mountImageIds])) {
      const entry = next[id];
      if (!entry) continue;
      const name = c.names[0] ?? c.id.slice(0, 12);
      // An image that any container (running or stopped) uses counts as used now.
      later(
        entry,
        nowIso,
        isRunning(c.state) ? `container ${name} is ${c.state}` : `container ${name} exists (${c.state})`,
        nowIso,
      );
    }
  }
  const names = new EventImages(inventory.images, byContainer);
  for (const e of events) {
    if (!USE_ACTIONS.has(e.action.split(':')[0]!)) continue;
    const id = names.find(e);
    const entry = id ? next[id] : undefined;
    if (entry) later(entry, e.time, `event ${e.action} of container ${e.containerId.slice(0, 12)}`, nowIso);
  }
  return next;
}

/** A snapshot's images without usage data count as first seen (and used) at capture time. */
export function snapshotUsage(inventory: Inventory): UsageMap {
  const usage: UsageMap = { ...inventory.usage };
  for (const image of inventory.images) {
    usage[image.id] ??= {
      firstSeen: inventory.capturedAt,
      lastUsed: inventory.capturedAt,
      source: 'first seen at capture',
    };
  }
  return usage;
}
