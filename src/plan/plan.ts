import { registrySummary, usesRegistry } from './restorable.js';
import type { Inventory, RegistryAnswer, UsageEntry } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { cacheBudget, planBuildCache, withDiskRemovals } from './build-cache.js';
import { decideImages, planDelete, type ImageDecision } from './decide.js';
import { evictable, evictForDisk, ReclaimTracker } from './disk.js';
import { compareText, imageFacts, type ImageFacts } from './facts.js';
import { orderActions } from './order.js';
import { selectReferences, type ImageSelection } from './select.js';
import { formatDuration } from '../policy/units.js';
import { PLAN_VERSION, type FirstSeenHold, type KeptImage, type Plan, type PlanAction } from './types.js';

export interface PlanInput {
  policy: Policy;
  inventory: Inventory;
  /** The clock, ms since the epoch: the planner never reads it itself. */
  now: number;
  /** Last-used record by image ID; defaults to the inventory's own. */
  usage?: Record<string, UsageEntry>;
  /** Keep every rule's verdict per reference (for explain). */
  trace?: boolean;
  /** Plan as if a registry might serve any image with a digest: the deletions then name the images to ask about. */
  assumeRestorableAny?: boolean;
  /** No usage record existed for this engine before this run: every image is first seen now. */
  usageStarted?: boolean;
}

export interface Evaluation {
  plan: Plan;
  /** The registries' answers the plan was made with (for explain). */
  registryAnswers?: Readonly<Record<string, RegistryAnswer>>;
  facts: Map<string, ImageFacts>;
  selections: Map<string, ImageSelection>;
  decisions: Map<string, ImageDecision>;
}

/** policy + inventory + now -> plan. Pure: no I/O, no clock. */
export function evaluatePolicy(input: PlanInput): Evaluation {
  const { policy, inventory, now } = input;
  const facts = imageFacts(inventory, policy, now, input.usage ?? inventory.usage, input.assumeRestorableAny ?? false);
  const selections = selectReferences(policy.rules, facts.values(), now, input.trace ?? false);
  const decisions = decideImages(policy, facts, selections, now);

  // Exact (by layers) or none: an inventory without the engine's disk accounting gives no estimate.
  const tracker = inventory.accountingUnavailable === undefined ? ReclaimTracker.of(facts) : null;
  const bytes = new Map<string, number>();
  if (tracker) {
    const ruleDeleted = [...decisions.values()].filter((d) => d.deleteRule !== null).sort(byDepthThenId);
    for (const d of ruleDeleted) bytes.set(d.facts.image.id, tracker.remove(d.facts));
  }
  let cache = policy.buildCache
    ? planBuildCache(policy.buildCache, inventory.buildCache, now, inventory.buildCacheUnavailable ?? null)
    : undefined;
  let disk: Plan['disk'] = null;
  if (policy.disk) {
    const records = inventory.buildCache ?? [];
    const budget = cache?.status === 'evaluated' ? cacheBudget(policy.buildCache!, records, cache) : null;
    const eviction = evictForDisk(policy.disk, inventory, decisions, tracker, budget);
    if (cache && budget) cache = withDiskRemovals(cache, records, budget.taken);
    for (const { decision, bytes: b } of eviction.evicted) {
      planDelete(decision, 'disk');
      bytes.set(decision.facts.image.id, b);
    }
    disk = eviction.summary;
  }

  if (inventory.engine.kind === 'podman') keepParentsPodmanWouldPrune(decisions);

  const actions: PlanAction[] = [];
  const kept: KeptImage[] = [];
  const seenContainers = new Set<string>();
  for (const d of decisions.values()) {
    const id = d.facts.image.id;
    if (d.deleteRule === null) {
      kept.push({ imageId: id, refs: d.facts.refs.map((r) => r.text), ...d.kept! });
    } else {
      for (const u of d.removeContainers) {
        if (seenContainers.has(u.container.id)) continue;
        seenContainers.add(u.container.id);
        actions.push({ type: 'remove-container', imageId: id, containerId: u.container.id, rule: d.deleteRule });
      }
      const del: PlanAction = {
        type: 'delete',
        imageId: id,
        refs: d.finalRefs,
        parentId: d.facts.parent?.image.id ?? null,
        rule: d.deleteRule,
      };
      if (tracker) del.bytes = bytes.get(id) ?? 0;
      const platforms = d.facts.image.platforms?.total ?? 1;
      if (platforms > 1) del.platforms = platforms;
      actions.push(del);
    }
    for (const u of d.untags) actions.push({ type: 'untag', imageId: id, ref: u.ref.text, rule: u.rule });
  }
  const ordered = orderActions(actions, (imageId) => facts.get(imageId)?.depth ?? 0);
  kept.sort((a, b) => compareText(a.imageId, b.imageId));

  const deletes = ordered.filter((a) => a.type === 'delete');
  // Nothing deleted frees exactly nothing, layers known or not.
  const exact = tracker !== null || (deletes.length === 0 && inventory.accountingUnavailable === undefined);
  const plan: Plan = {
    kind: 'imgsweep-plan',
    version: PLAN_VERSION,
    createdAt: new Date(now).toISOString(),
    engine: pickEngine(inventory),
    policy: {
      name: policy.name,
      file: policy.file,
      sha256: policy.sha256,
      stoppedContainers: policy.containers.stopped,
    },
    inventory: {
      capturedAt: inventory.capturedAt,
      images: inventory.images.length,
      containers: inventory.containers.length,
    },
    refused: checkLimits(policy, deletes.length, inventory.images.length),
    actions: ordered,
    kept,
    disk,
    summary: {
      images: inventory.images.length,
      containers: inventory.containers.length,
      removeContainers: ordered.filter((a) => a.type === 'remove-container').length,
      untags: ordered.filter((a) => a.type === 'untag').length,
      deletes: deletes.length,
      kept: kept.length,
      bytes: exact ? deletes.reduce((s, a) => s + (a.bytes ?? 0), 0) : null,
      estimate: exact ? 'layers' : 'unavailable',
    },
  };
  const hold = firstSeenHold(input, kept, facts);
  if (hold) plan.firstSeen = hold;
  if (cache) plan.buildCache = cache;
  if (usesRegistry(policy)) plan.registry = registrySummary(inventory);
  return {
    plan,
    facts,
    selections,
    decisions,
    ...(inventory.registry ? { registryAnswers: inventory.registry.answers } : {}),
  };
}

function firstSeenHold(input: PlanInput, kept: KeptImage[], facts: Map<string, ImageFacts>): FirstSeenHold | null {
  const floor = input.policy.protect.youngerThanMs;
  if (floor === null) return null;
  const until = kept.flatMap((k) =>
    k.reason === 'protected-age' && k.protection.kind === 'youngerThan' && k.protection.since === 'first-seen'
      ? [facts.get(k.imageId)!.firstSeenMs! + floor]
      : [],
  );
  const started = input.usageStarted ?? false;
  if (until.length === 0 || !(started || until.length * 2 > kept.length)) return null;
  return {
    images: until.length,
    youngerThan: input.policy.protect.youngerThan ?? formatDuration(floor),
    // reduce, not Math.min(...): a host may hold a million images.
    eligibleFrom: new Date(until.reduce((a, b) => Math.min(a, b))).toISOString(),
    eligibleBy: new Date(until.reduce((a, b) => Math.max(a, b))).toISOString(),
    recordStarted: started,
  };
}

export function makePlan(input: PlanInput): Plan {
  return evaluatePolicy(input).plan;
}

/** The disk section evicted nothing because the engine's disk accounting was unavailable: the run exits 1. */
export function accountingSkipped(plan: Plan): boolean {
  return plan.disk?.status === 'accounting-unavailable';
}

/**
 * Podman ignores `noprune`: deleting an image also removes its parent when that parent is untagged and has no
 * other child left. Only what the plan lists may be removed, so on Podman an image whose delete
 * would take such a kept parent with it is kept (whole: no untags either), and so on up its own children.
 */
function keepParentsPodmanWouldPrune(decisions: Map<string, ImageDecision>): void {
  const deleted = (f: ImageFacts) => decisions.get(f.image.id)?.deleteRule != null;
  for (let changed = true; changed;) {
    changed = false;
    for (const d of decisions.values()) {
      const parent = d.facts.parent;
      if (d.deleteRule === null || !parent || deleted(parent)) continue;
      if (parent.image.repoTags.length > 0 || parent.image.repoDigests.length > 0) continue;
      if (!parent.children.every(deleted)) continue;
      d.deleteRule = null;
      d.untags = [];
      d.removeContainers = [];
      d.kept = { reason: 'engine-prunes-parent', parent: parent.image.id };
      changed = true;
    }
  }
}

function byDepthThenId(a: ImageDecision, b: ImageDecision): number {
  return b.facts.depth - a.facts.depth || compareText(a.facts.image.id, b.facts.image.id);
}

function pickEngine(inventory: Inventory): Plan['engine'] {
  const { key, id, name, kind, version, apiVersion, host } = inventory.engine;
  return { key, id, name, kind, version, apiVersion, host };
}

function checkLimits(policy: Policy, deletes: number, images: number): Plan['refused'] {
  const { maxDeletions, maxDeletionsPercent } = policy.limits;
  if (maxDeletions !== null && deletes > maxDeletions)
    return { reason: 'max-deletions', deletes, images, limit: maxDeletions };
  if (maxDeletionsPercent !== null && images > 0 && (deletes / images) * 100 > maxDeletionsPercent) {
    return { reason: 'max-deletions-percent', deletes, images, limit: maxDeletionsPercent };
  }
  return null;
}

/** Images whose layers matter for the reclaim estimate: those the plan deletes, and those the disk section may evict. */
export function reclaimCandidates(ev: Evaluation, policy: Policy): Set<string> {
  const ids = new Set<string>();
  for (const d of ev.decisions.values()) {
    if (d.deleteRule !== null || (policy.disk && evictable(d))) ids.add(d.facts.image.id);
  }
  return ids;
}
