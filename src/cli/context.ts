import { connectEngine } from '../engine/docker.js';
import type { Engine } from '../engine/engine.js';
import { PolicyInvalid, UsageError } from '../errors.js';
import { readInventory } from '../inventory/read.js';
import { readInventoryFile } from '../inventory/snapshot.js';
import type { Inventory } from '../inventory/types.js';
import { loadPolicyFile } from '../policy/load.js';
import { formatProblem } from '../policy/problems.js';
import type { Policy } from '../policy/types.js';
import { parseDuration } from '../policy/units.js';
import type { CliIo } from './io.js';
import { attachLayers } from '../inventory/layers.js';
import { evaluatePolicy, reclaimCandidates, type Evaluation } from '../plan/plan.js';
import { defaultStateDir } from '../execute/state-dir.js';
import { observeUsage } from '../usage/observe.js';
import { snapshotUsage } from '../usage/fold.js';

export async function requirePolicy(file: string | undefined, command: string): Promise<Policy> {
  if (!file) throw new UsageError(`${command}: name the policy with -p POLICY`);
  const result = await loadPolicyFile(file);
  if (!result.ok) throw new PolicyInvalid(result.problems.map(formatProblem).join('\n'));
  return result.policy;
}

export interface EngineOptions {
  host?: string;
  timeout?: string;
}

export function timeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null || ms === 0) throw new UsageError(`--timeout: "${text}" is not a duration (examples: 30s, 2m)`);
  return ms;
}

export async function openEngine(opts: EngineOptions, io: CliIo): Promise<Engine> {
  return connectEngine({ host: opts.host, env: io.env, timeoutMs: timeoutMs(opts.timeout) });
}

export interface InventoryOptions extends EngineOptions {
  inventory?: string;
  'state-dir'?: string;
}

/** The live engine's inventory, with the usage record updated from what this run sees. */
export async function liveInventory(engine: Engine, opts: InventoryOptions, io: CliIo, now: number): Promise<Inventory> {
  const inventory = await readInventory(engine, now);
  const stateDir = opts['state-dir'] ?? defaultStateDir(io.env);
  inventory.usage = await observeUsage(engine, inventory, stateDir, now, (m) => io.stderr.write(`imgsweep: warning: ${m}\n`));
  return inventory;
}

/** The inventory to evaluate: a saved snapshot (with its usage record completed unless only shown), or the live engine's. */
export async function loadInventory(opts: InventoryOptions, io: CliIo, now: number, evaluate = true): Promise<Inventory> {
  // evaluate=false: the inventory command; a live snapshot then carries the layers any later plan needs.
  if (opts.inventory) {
    if (opts.host) throw new UsageError('--inventory and --host exclude each other: a saved inventory is evaluated without an engine');
    const inventory = await readInventoryFile(opts.inventory);
    return evaluate ? { ...inventory, usage: snapshotUsage(inventory) } : inventory;
  }
  const engine = await openEngine(opts, io);
  try {
    const inventory = await liveInventory(engine, opts, io, now);
    if (!evaluate) await attachLayers(engine, inventory, 'all');
    return inventory;
  } finally {
    engine.close();
  }
}

/** Plans against a live engine: a first pass finds the candidates, whose layers then make the estimate exact. */
export async function evaluateLive(engine: Engine, policy: Policy, opts: InventoryOptions, io: CliIo, now: number, trace = false): Promise<Evaluation> {
  const inventory = await liveInventory(engine, opts, io, now);
  const first = evaluatePolicy({ policy, inventory, now, trace });
  const candidates = reclaimCandidates(first, policy);
  if (candidates.size === 0) return first;
  await attachLayers(engine, inventory, candidates);
  return evaluatePolicy({ policy, inventory, now, trace });
}

/** Evaluates a policy against a saved inventory or the live engine. */
export async function evaluate(policy: Policy, opts: InventoryOptions, io: CliIo, now: number, trace = false): Promise<Evaluation> {
  if (opts.inventory) return evaluatePolicy({ policy, inventory: await loadInventory(opts, io, now), now, trace });
  const engine = await openEngine(opts, io);
  try {
    return await evaluateLive(engine, policy, opts, io, now, trace);
  } finally {
    engine.close();
  }
}
