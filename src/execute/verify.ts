import { isRunning, type ContainerRecord } from '../inventory/types.js';
import type { ImageRefs } from '../engine/engine.js';
import type { Plan, PlanAction } from '../plan/types.js';
import { containerRef } from '../plan/reasons.js';
import { plannedReferences } from './references.js';
import type { StepReason } from './reasons.js';

export interface LiveState {
  images: ImageRefs[];
  containers: ContainerRecord[];
}

/** A step that may not run because the engine changed since planning. */
export interface StaleStep {
  reason: StepReason;
  /** The step's goal already holds (the reference or image is gone): dependants may go on. */
  clear: boolean;
}

/**
 * Re-verifies every step of a plan against the engine as it is now. Pure: the live state is passed in.
 * Returns, per action index, why the step must be dropped; steps not listed are still valid.
 */
export function verifyPlan(plan: Plan, live: LiveState): Map<number, StaleStep> {
  const stale = new Map<number, StaleStep>();
  const images = new Map(live.images.map((i) => [i.id, i]));
  const refOwner = new Map<string, string>();
  for (const i of live.images) for (const r of [...i.repoTags, ...i.repoDigests]) refOwner.set(r, i.id);
  const containers = new Map(live.containers.map((c) => [c.id, c]));
  const plannedRemovals = new Set(plan.actions.filter((a) => a.type === 'remove-container').map((a) => a.containerId!));
  const plannedDeletes = new Set(plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId));
  const keptChild = new Map<string, string>();
  for (const i of live.images) if (i.parentId && !plannedDeletes.has(i.id)) keptChild.set(i.parentId, i.id);

  // A container that runs now, or that was created or started since planning, keeps its images untouched.
  // Stopped containers that were there at planning did not stop the plan (they may be removed), so they
  // still do not; the plan's own removals are checked per step.
  const planned = Date.parse(plan.createdAt);
  const since = (t: string | null) => t !== null && Date.parse(t) > planned;
  const usedNow = new Map<string, ContainerRecord>();
  for (const c of live.containers) {
    if (plannedRemovals.has(c.id)) continue;
    if (!isRunning(c.state) && !since(c.created) && !since(c.startedAt)) continue;
    for (const id of [c.imageId, ...c.mountImageIds]) if (!usedNow.has(id)) usedNow.set(id, c);
  }
  // A planned removal that runs again keeps every image it uses.
  for (const c of live.containers) {
    if (!plannedRemovals.has(c.id) || !isRunning(c.state)) continue;
    for (const id of [c.imageId, ...c.mountImageIds]) if (!usedNow.has(id)) usedNow.set(id, c);
  }
  const allowed = plannedReferences(plan);

  plan.actions.forEach((a, index) => {
    const why = staleReason(a);
    if (why) stale.set(index, why);
  });
  return stale;

  function staleReason(a: PlanAction): StaleStep | null {
    if (a.type === 'remove-container') {
      const c = containers.get(a.containerId!);
      if (!c) return { reason: { code: 'container-gone' }, clear: true };
      if (isRunning(c.state)) return { reason: { code: 'container-running', state: c.state }, clear: false };
    }
    const user = usedNow.get(a.imageId);
    if (user) return { reason: { code: 'image-in-use', container: containerRef(user) }, clear: false };
    if (a.type === 'remove-container') {
      const c = containers.get(a.containerId!)!;
      if (c.imageId !== a.imageId && !c.mountImageIds.includes(a.imageId))
        return { reason: { code: 'container-image-changed' }, clear: false };
      return null;
    }
    const image = images.get(a.imageId);
    if (a.type === 'untag') {
      const owner = refOwner.get(a.ref!);
      if (owner === undefined) return { reason: { code: 'reference-gone' }, clear: true };
      if (owner !== a.imageId) return { reason: { code: 'reference-moved', imageId: owner }, clear: true };
      return null;
    }
    if (!image) return { reason: { code: 'image-gone' }, clear: true };
    const changed = deleteFactsChanged(a, image, allowed.get(a.imageId));
    if (changed) return { reason: changed, clear: false };
    const child = keptChild.get(a.imageId);
    if (child) return { reason: { code: 'new-child', child }, clear: false };
    return null;
  }
}

/** Why an image planned for deletion may no longer be deleted by ID: references it gained or lost since planning. */
export function deleteFactsChanged(
  a: PlanAction,
  image: ImageRefs,
  allowed: ((ref: string) => boolean) | undefined,
): StepReason | null {
  const extra = [...image.repoTags, ...image.repoDigests].filter((r) => !allowed?.(r));
  if (extra.length > 0) return { code: 'unplanned-references', refs: extra };
  const lost = (a.refs ?? []).filter((r) => !r.includes('@') && !image.repoTags.includes(r));
  if (lost.length > 0) return { code: 'references-lost', refs: lost };
  return null;
}
