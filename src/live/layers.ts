import { createHash } from 'node:crypto';
import type { Engine, EngineDiskUsage } from '../engine/engine.js';
import type { Inventory } from '../inventory/types.js';
import { mapLimit } from '../map-limit.js';
import type { LayerProgress } from './read.js';
import { inferLayers, type Layer, type ShareFacts } from './share.js';

export interface LayerFetch {
  /** Images whose layers were read from the engine. */
  fetched: number;
  /** Engine calls made (two per fetched image, plus /system/df). */
  calls: number;
  /** The engine's disk accounting as read for this (null: none to be had, or Podman, which keeps none). */
  diskUsage: EngineDiskUsage | null;
}

/** Rounds of inferred reads before every image still unresolved is read at once. */
const ROUNDS = 3;

/**
 * Gives every image its layers for an exact reclaim estimate, reading the engine only where it must.
 * On Docker's graph-driver store, /system/df's sizes and shared bytes tell most images' layers once a few
 * are read (share.ts): an image that shares nothing is one private layer, and an image whose shared bytes
 * match one read stack shares that stack. A few images per shared stack are read, whatever the number of
 * images. Legacy-builder steps (listed, but not in df) are each a bottom part of a read descendant.
 * Where the figures do not settle it (Podman, whose /system/df says nothing; containerd's store; df and the
 * listing disagree) every image that may share is read, as the estimate needs.
 * When the engine's accounting cannot be had (df refused or busy past the timeout, a read failed), no image
 * gets layers and `inventory.accountingUnavailable` says why: the estimate is then unavailable, never guessed.
 */
export async function attachLayers(
  engine: Engine,
  inventory: Inventory,
  concurrency = 8,
  progress?: LayerProgress,
): Promise<LayerFetch> {
  try {
    return await readLayers(engine, inventory, concurrency, progress);
  } finally {
    progress?.end();
  }
}

async function readLayers(
  engine: Engine,
  inventory: Inventory,
  concurrency: number,
  progress: LayerProgress | undefined,
): Promise<LayerFetch> {
  let df: EngineDiskUsage | null;
  try {
    df = await engine.diskUsage();
  } catch (error) {
    inventory.accountingUnavailable = (error as Error).message;
    return { fetched: 0, calls: 1, diskUsage: null };
  }
  const read = new Map<string, Layer[]>();
  let tried = 0;
  const fetch = async (ids: string[]) => {
    const todo = [...new Set(ids)].filter((id) => !read.has(id));
    tried += todo.length;
    progress?.update(read.size, tried);
    await mapLimit(todo, concurrency, async (id) => {
      read.set(id, await engine.imageLayers(id));
      progress?.update(read.size, tried);
    });
  };
  let layers: Map<string, Layer[]>;
  try {
    const shares =
      df && inventory.engine.kind === 'docker' && inventory.engine.imageStore === 'classic'
        ? shareFacts(inventory, df)
        : null;
    if (shares) {
      await fetch([...shares.steps.values()].flatMap((s) => (s.under ? [s.under] : [])));
      for (let round = 0; ; round++) {
        const step = inferLayers(shares.facts, read, df!.layersSize, round >= ROUNDS, privateLayer);
        if ('layers' in step) {
          layers = step.layers;
          break;
        }
        await fetch(step.read);
      }
      const bottoms = new Map(
        [...shares.steps].map(([id, s]) => [id, s.under ? bottom(read.get(s.under)!, s.size) : null]),
      );
      await fetch([...bottoms].flatMap(([id, b]) => (b ? [] : [id])));
      for (const [id, b] of bottoms) layers.set(id, b ?? read.get(id)!);
    } else {
      await fetch(
        inventory.images.filter((i) => !df || (df.sharedSize.get(i.id) ?? i.sharedSize ?? null) !== 0).map((i) => i.id),
      );
      layers = read;
    }
  } catch (error) {
    inventory.accountingUnavailable = `reading image layers: ${(error as Error).message}`;
    return { fetched: 0, calls: 1 + tried * 2, diskUsage: df };
  }
  const containerd = inventory.engine.imageStore === 'containerd';
  inventory.images = inventory.images.map((i) => {
    const own = layers.get(i.id);
    if (!own) return { ...i, layers: [privateLayer(i.id, i.size)] };
    return { ...i, layers: containerd ? withContent(i.id, i.size, own) : own };
  });
  delete inventory.accountingUnavailable;
  return { fetched: read.size, calls: 1 + tried * 2, diskUsage: df };
}

interface Shares {
  /** Images /system/df lists, with its figures. */
  facts: ShareFacts[];
  /** Listed images df leaves out (legacy-builder steps under a tagged image), with a df image built on each. */
  steps: Map<string, { size: number; under: string | null }>;
}

/** df's figures for the listed images, or null when they cannot be trusted to describe the listing. */
function shareFacts(inventory: Inventory, df: EngineDiskUsage): Shares | null {
  const listed = new Set(inventory.images.map((i) => i.id));
  for (const id of df.sizes.keys()) if (!listed.has(id)) return null;
  const children = new Map<string, string[]>();
  for (const i of inventory.images) {
    if (!i.parentId) continue;
    const list = children.get(i.parentId);
    if (list) list.push(i.id);
    else children.set(i.parentId, [i.id]);
  }
  const above = (id: string): string | null => {
    const queue = [...(children.get(id) ?? [])];
    const seen = new Set(queue);
    for (let k = 0; k < queue.length; k++) {
      if (df.sizes.has(queue[k]!)) return queue[k]!;
      for (const c of children.get(queue[k]!) ?? []) {
        if (seen.has(c)) continue;
        seen.add(c);
        queue.push(c);
      }
    }
    return null;
  };
  const facts: ShareFacts[] = [];
  const steps: Shares['steps'] = new Map();
  for (const i of inventory.images) {
    const size = df.sizes.get(i.id);
    const shared = df.sharedSize.get(i.id);
    if (size === undefined) steps.set(i.id, { size: i.size, under: above(i.id) });
    else if (shared === undefined || size < 0) return null;
    else facts.push({ id: i.id, size, shared });
  }
  return { facts, steps };
}

/** The bottom of a stack that holds `size` bytes (a parent image's layers), or null when none does exactly. */
function bottom(layers: Layer[], size: number): Layer[] | null {
  let running = 0;
  for (let n = 0; n <= layers.length; n++) {
    if (running === size) return layers.slice(0, n);
    if (n < layers.length) running += layers[n]!.size;
  }
  return null;
}

/**
 * The containerd store keeps each layer twice: unpacked (the snapshots its history sizes) and compressed (its
 * content store), and an image's listed size is its disk usage: both, for every platform pulled (a platform
 * never pulled holds nothing). What the listed size holds beyond the unpacked layers read becomes one layer of
 * the image's own. A compressed layer two images share is counted with each: the estimate can come out high,
 * so a disk budget evicts fewer images, never more.
 */
function withContent(id: string, size: number, unpacked: Layer[]): Layer[] {
  const rest = size - unpacked.reduce((s, l) => s + l.size, 0);
  return rest > 0 ? [...unpacked, privateLayer(id, rest)] : unpacked;
}

/** An image's own bytes as one layer, with a digest no real layer has. */
function privateLayer(id: string, size: number): Layer {
  return { digest: `sha256:${createHash('sha256').update(`imgsweep-private-layer:${id}`).digest('hex')}`, size };
}
