/**
 * The one sequence that reads a live engine for a plan: list it, update the usage record, find what the policy
 * may remove, read the layers that make the reclaim estimate exact, plan. The command line, the library and
 * the tests all go through here, so every mode estimates the same way.
 */
import type { Engine, EngineDiskUsage } from '../engine/engine.js';
import { evaluatePolicy, reclaimCandidates, type Evaluation } from '../plan/plan.js';
import type { Policy } from '../policy/types.js';
import { attachLayers } from './layers.js';
import { readLive, type LiveInventory, type LiveOptions } from './read.js';
import { usesRegistry } from '../plan/restorable.js';
import { attachRegistryAnswers } from './registry.js';

export interface LivePlan extends Evaluation, LiveInventory {
  /** The engine's disk accounting read for the estimate (null: none read, or none to be had). */
  diskUsage: EngineDiskUsage | null;
}

/**
 * Plans against a live engine. Layers are read when the plan removes something or has a disk budget to keep;
 * when the engine's accounting cannot be had, the plan says so (no estimate, no eviction) rather than guess.
 */
export async function planLive(
  engine: Engine,
  policy: Policy,
  o: LiveOptions & { trace?: boolean },
): Promise<LivePlan> {
  const live = await readLive(engine, o);
  const input = {
    policy,
    inventory: live.inventory,
    now: o.now,
    trace: o.trace ?? false,
    usageStarted: live.usageStarted,
  };
  if (usesRegistry(policy))
    await attachRegistryAnswers(engine.insecureRegistries(), input, o.registry ?? { mode: 'live' });
  const first = evaluatePolicy(input);
  if (!policy.disk && reclaimCandidates(first, policy).size === 0) {
    if (!policy.buildCache) return { ...first, ...live, diskUsage: null };
    await attachBuildCache(engine, live.inventory, undefined);
    return { ...evaluatePolicy(input), ...live, diskUsage: null };
  }
  const { diskUsage } = await attachLayers(engine, live.inventory, undefined, o.layerProgress);
  if (policy.buildCache) await attachBuildCache(engine, live.inventory, diskUsage);
  return { ...evaluatePolicy(input), ...live, diskUsage };
}

/**
 * Gives the inventory the engine's build cache: from the disk accounting already read (`df`), else read now.
 * Podman keeps none (null); a Docker engine whose accounting cannot be had leaves it unread, saying why.
 */
async function attachBuildCache(
  engine: Engine,
  inventory: LiveInventory['inventory'],
  df: EngineDiskUsage | null | undefined,
): Promise<void> {
  if (inventory.engine.kind === 'podman') {
    inventory.buildCache = null;
    return;
  }
  // The accounting was just asked for and could not be had: asking again would only wait as long again.
  if (df === null && inventory.accountingUnavailable !== undefined) {
    inventory.buildCacheUnavailable = inventory.accountingUnavailable;
    return;
  }
  try {
    const usage = df ?? (await engine.diskUsage());
    if (usage) inventory.buildCache = usage.buildCache;
    else inventory.buildCacheUnavailable = 'the engine gave no disk accounting';
  } catch (error) {
    inventory.buildCacheUnavailable = (error as Error).message;
  }
}

/** A snapshot to plan from later, anywhere: every image with its layers, as a live plan would read them. */
export async function snapshotLive(engine: Engine, o: LiveOptions, policy?: Policy): Promise<LiveInventory> {
  const live = await readLive(engine, o);
  const { diskUsage } = await attachLayers(engine, live.inventory, undefined, o.layerProgress);
  await attachBuildCache(engine, live.inventory, diskUsage);
  if (policy && usesRegistry(policy)) {
    const input = { policy, inventory: live.inventory, now: o.now, usageStarted: live.usageStarted };
    await attachRegistryAnswers(engine.insecureRegistries(), input, o.registry ?? { mode: 'live' });
  }
  return live;
}
