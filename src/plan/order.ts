import { compareText } from './facts.js';
import type { PlanAction } from './types.js';

const TYPE_ORDER = { 'remove-container': 0, untag: 1, delete: 2 } as const;

/**
 * Container removals first, then untags, then deletes with children before parents. `depth` is an image's
 * number of ancestors: deeper images are deleted first. Everything else is sorted for byte-stable plans.
 * Each action's sort key is computed once: plans of 100k images sort in milliseconds.
 */
export function orderActions(actions: PlanAction[], depth: (imageId: string) => number): PlanAction[] {
  const keyed = actions.map((a) => ({
    a,
    type: TYPE_ORDER[a.type],
    depth: a.type === 'delete' ? depth(a.imageId) : 0,
    name: a.ref ?? a.containerId ?? '',
  }));
  keyed.sort(
    (x, y) =>
      x.type - y.type || y.depth - x.depth || compareText(x.a.imageId, y.a.imageId) || compareText(x.name, y.name),
  );
  return keyed.map((k) => k.a);
}
