import { statfs } from 'node:fs/promises';
import type { Engine } from '../engine/engine.js';
import type { Inventory } from './types.js';

/** Measures the filesystem holding the engine's data root; null when it is not on this machine. */
export async function measureDisk(engine: Engine, rootDir: string): Promise<Inventory['disk']> {
  if (!engine.host.startsWith('unix://') || !rootDir) return null;
  try {
    const s = await statfs(rootDir);
    const totalBytes = s.blocks * s.bsize;
    // Like df: used = total - free; what root may still use counts as free.
    const usedBytes = (s.blocks - s.bfree) * s.bsize;
    return totalBytes > 0 ? { totalBytes, usedBytes, path: rootDir } : null;
  } catch {
    return null;
  }
}

/** Reads the live engine's images and containers (two list calls and the container inspects). */
export async function readInventory(engine: Engine, now: number, usage: Inventory['usage'] = {}): Promise<Inventory> {
  const identity = await engine.identity();
  const [images, containers] = await Promise.all([engine.listImages(), engine.listContainers()]);
  const disk = identity.imageStore === 'classic' ? await measureDisk(engine, identity.rootDir) : null;
  return {
    kind: 'imgsweep-inventory',
    version: 1,
    capturedAt: new Date(now).toISOString(),
    engine: identity,
    images,
    containers,
    usage,
    disk,
  };
}
