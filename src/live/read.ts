/** Reading a live engine: its images and containers, the filesystem under its data root, and the usage record. */
import type { RegistryCheck } from './registry.js';
import { statfs } from 'node:fs/promises';
import type { Engine } from '../engine/engine.js';
import type { EngineIdentity, Inventory } from '../inventory/types.js';
import { readObservation, recordUsage } from '../usage/observe.js';

type Disk = NonNullable<Inventory['disk']>;

/**
 * Measures the filesystem holding the engine's images: its data root, or containerd's root on the containerd
 * store (outside the data root). Otherwise says why it cannot.
 */
export async function measureDisk(engine: Engine, identity: EngineIdentity): Promise<Disk | { why: string }> {
  if (!engine.host.startsWith('unix://')) return { why: 'the engine is not on this machine' };
  const dir = identity.imageStore === 'classic' ? identity.rootDir : identity.containerdRoot;
  if (!dir) {
    return identity.imageStore === 'classic'
      ? { why: 'the engine does not name its data root' }
      : { why: 'the engine keeps its images in containerd, and does not say where containerd keeps its data' };
  }
  try {
    const s = await statfs(dir);
    const totalBytes = s.blocks * s.bsize;
    // As df counts: used = total - free; available = what ordinary users may still write (root's reserve
    // left out). df's Use% is used / (used + available).
    const usedBytes = (s.blocks - s.bfree) * s.bsize;
    const availableBytes = s.bavail * s.bsize;
    return totalBytes > 0 ? { totalBytes, usedBytes, availableBytes, path: dir } : { why: `${dir} reports no size` };
  } catch (error) {
    return {
      why: `${dir} cannot be measured here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    };
  }
}

/** The live engine's images and containers (two list calls and the container inspects). */
export async function readInventory(engine: Engine, now: number, usage: Inventory['usage'] = {}): Promise<Inventory> {
  const identity = await engine.identity();
  const [images, containers] = await Promise.all([engine.listImages(), engine.listContainers()]);
  const disk = await measureDisk(engine, identity);
  return {
    kind: 'imgsweep-inventory',
    version: 1,
    capturedAt: new Date(now).toISOString(),
    engine: identity,
    images,
    containers,
    usage,
    ...('why' in disk ? { disk: null, diskUnmeasured: disk.why } : { disk }),
  };
}

export interface LiveOptions {
  /** Where the usage record (and the lock) live. */
  stateDir: string;
  /** The clock, ms since the epoch. */
  now: number;
  warn: (message: string) => void;
  /** Told as image layers are read, for a progress display. */
  layerProgress?: LayerProgress;
  /** Whether registries are asked for a policy that needs to know what can be pulled again (default live). */
  registry?: RegistryCheck;
}

/** Images whose layers were read so far, of those to read (more may be added as reads settle what is shared). */
export interface LayerProgress {
  update(read: number, toRead: number): void;
  end(): void;
}

export interface LiveInventory {
  inventory: Inventory;
  /** performance.now() before the listing was asked for: its facts are at least this old. */
  listedAt: number;
  /** The usage record's saving, under way while the caller goes on (never rejects): why it failed, or null. */
  saved: Promise<string | null>;
  /** There was no usage record for this engine: this run started it, and every image is first seen now. */
  usageStarted: boolean;
}

/** The live engine's inventory, with the usage record updated from what this run sees (containers, recent events). */
export async function readLive(engine: Engine, o: LiveOptions): Promise<LiveInventory> {
  const { key } = await engine.identity();
  const listedAt = performance.now();
  // The events since the last run are read while the engine is listed.
  const [inventory, observation] = await Promise.all([
    readInventory(engine, o.now),
    readObservation(engine, key, o.stateDir, o.now, o.warn),
  ]);
  const { images, saved } = recordUsage(observation, inventory, o.stateDir, o.now, o.warn);
  inventory.usage = images;
  return { inventory, listedAt, saved, usageStarted: observation.record.eventsUntil === null };
}
