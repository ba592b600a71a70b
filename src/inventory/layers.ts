import { createHash } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import type { ImageRecord, Inventory } from './types.js';

export interface LayerFetch {
  /** Images whose layers were read from the engine. */
  fetched: number;
  /** Engine calls made (two per fetched image, plus /system/df). */
  calls: number;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Gives every image its layers for an exact reclaim estimate, reading the engine only where it matters.
 * An image that shares no bytes with another (per the engine's /system/df) frees exactly its size: it gets
 * one private pseudo-layer, no calls. Images that share bytes get their real layers (inspect + history),
 * all of them, since any of them may hold a candidate's layer; nothing is read when there is no candidate
 * (`candidates` 'all': for a snapshot, whose candidates are not known yet). The same rule for live plans and
 * snapshots makes a snapshot's plan the live plan.
 * Without /system/df (or on failure) the inventory is left as it was: the estimate then uses sizes. Podman,
 * whose /system/df says nothing, gets every image's layers read.
 */
export async function attachLayers(engine: Engine, inventory: Inventory, candidates: ReadonlySet<string> | 'all', concurrency = 8): Promise<LayerFetch> {
  if (candidates !== 'all' && candidates.size === 0) return { fetched: 0, calls: 0 };
  const df = await engine.diskUsage();
  // Podman reports no sharing at all (/system/df is a placeholder there): every image may share.
  if (!df && inventory.engine.kind !== 'podman') return { fetched: 0, calls: 1 };
  const wanted = inventory.images.filter((i) => !df || (df.sharedSize.get(i.id) ?? i.sharedSize ?? null) !== 0);
  const layers = new Map<string, ImageRecord['layers']>();
  try {
    await mapLimit(wanted, concurrency, async (i) => {
      layers.set(i.id, await engine.imageLayers(i.id));
    });
  } catch {
    return { fetched: 0, calls: 1 + wanted.length * 2 };
  }
  inventory.images = inventory.images.map((i) => ({ ...i, layers: layers.get(i.id) ?? [privateLayer(i)] }));
  return { fetched: wanted.length, calls: 1 + wanted.length * 2 };
}

/** An image that shares nothing: one layer of its whole size, with a digest no real layer has. */
function privateLayer(i: ImageRecord): { digest: string; size: number } {
  return { digest: `sha256:${createHash('sha256').update(`imgsweep-private-layer:${i.id}`).digest('hex')}`, size: i.size };
}
