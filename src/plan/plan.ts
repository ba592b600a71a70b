import type { Inventory, UsageEntry } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { decideImages, planDelete, type ImageDecision } from './decide.js';
import { evictable, evictForDisk, ReclaimTracker } from './disk.js';
import { compareText, imageFacts, type ImageFacts } from './facts.js';
import { orderActions } from './order.js';
import { selectReferences, type ImageSelection } from './select.js';
import type { KeptImage, Plan, PlanAction } from './types.js';

export interface PlanInput {
  policy: Policy;
  inventory: Inventory;
  /** The clock, ms since the epoch: the planner never reads it itself. */
  now: number;
  /** Last-used record by image ID; defaults to the inventory's own. */
  usage?: Record<string, UsageEntry>;
  /** Keep every rule's verdict per reference (for explain). */
  trace?: boolean;
}

export interface Evaluation {
  plan: Plan;
  facts: Map<string, ImageFacts>;
  selections: Map<string, ImageSelection>;
  decisions: Map<string, ImageDecision>;
}

/** policy + inventory + now -> plan. Pure: no I/O, no clock. */
export function evaluatePolicy(input: PlanInput): Evaluation {
  const { policy, inventory, now } = input;
  const facts = imageFacts(inventory, policy, now, input.usage ?? inventory.usage);
  const selections = selectReferences(policy.rules, facts.values(), now, input.trace ?? false);
  const decisions = decideImages(policy, facts, selections, now);

  const tracker = new ReclaimTracker(facts);
  const totalBefore = tracker.total();
  const ruleDeleted = [...decisions.values()].filter((d) => d.deleteRule !== null).sort(byDepthThenId);
  const bytes = new Map<string, number>();
  for (const d of ruleDeleted) bytes.set(d.facts.image.id, tracker.remove(d.facts));
  let disk: Plan['disk'] = null;
  if (policy.disk) {
    const eviction = evictForDisk(policy.disk, inventory, decisions, tracker, totalBefore);
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
      kept.push({ imageId: id, refs: d.facts.refs.map((r) => r.text), reason: d.kept!.reason, detail: d.kept!.detail });
    } else {
      for (const u of d.removeContainers) {
        if (seenContainers.has(u.container.id)) continue;
        seenContainers.add(u.container.id);
        actions.push({ type: 'remove-container', imageId: id, containerId: u.container.id, rule: d.deleteRule });
      }
      actions.push({ type: 'delete', imageId: id, refs: d.finalRefs, parentId: d.facts.parent?.image.id ?? null, rule: d.deleteRule, bytes: bytes.get(id) ?? 0 });
    }
    for (const u of d.untags) actions.push({ type: 'untag', imageId: id, ref: u.ref.text, rule: u.rule });
  }
  const ordered = orderActions(actions, (imageId) => facts.get(imageId)?.depth ?? 0);
  kept.sort((a, b) => compareText(a.imageId, b.imageId));

  const deletes = ordered.filter((a) => a.type === 'delete');
  const plan: Plan = {
    kind: 'imgsweep-plan',
    version: 1,
    createdAt: new Date(now).toISOString(),
    engine: pickEngine(inventory),
    policy: { name: policy.name, file: policy.file, sha256: policy.sha256 },
    inventory: { capturedAt: inventory.capturedAt, images: inventory.images.length, containers: inventory.containers.length },
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
      bytes: deletes.reduce((s, a) => s + (a.bytes ?? 0), 0),
      estimate: tracker.byLayers ? 'layers' : 'sizes',
    },
  };
  return { plan, facts, selections, decisions };
}

export function makePlan(input: PlanInput): Plan {
  return evaluatePolicy(input).plan;
}

/**
 * Podman ignores `noprune`: deleting an image also removes its parent when that parent is untagged and has no
 * other child left. SPEC §5.10 allows removing only what the plan lists, so on Podman an image whose delete
 * would take such a kept parent with it is kept (whole: no untags either), and so on up its own children.
 */
function keepParentsPodmanWouldPrune(decisions: Map<string, ImageDecision>): void {
  const deleted = (f: ImageFacts) => decisions.get(f.image.id)?.deleteRule != null;
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of decisions.values()) {
      const parent = d.facts.parent;
      if (d.deleteRule === null || !parent || deleted(parent)) continue;
      if (parent.image.repoTags.length > 0 || parent.image.repoDigests.length > 0) continue;
      if (!parent.children.every(deleted)) continue;
      d.deleteRule = null;
      d.untags = [];
      d.removeContainers = [];
      d.kept = { reason: 'engine-prunes-parent', detail: `Podman would also remove its untagged parent ${parent.image.id.slice(7, 19)}, which the plan keeps` };
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
  if (maxDeletions !== null && deletes > maxDeletions) {
    return { reason: `the plan deletes ${deletes} images, more than limits.maxDeletions (${maxDeletions})` };
  }
  if (maxDeletionsPercent !== null && images > 0 && (deletes / images) * 100 > maxDeletionsPercent) {
    const pct = Math.round((deletes / images) * 1000) / 10;
    return { reason: `the plan deletes ${deletes} of ${images} images (${pct}%), more than limits.maxDeletionsPercent (${maxDeletionsPercent}%)` };
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
