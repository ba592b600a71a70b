import { compareText } from './facts.js';
import type { PlanAction } from './types.js';

const TYPE_ORDER = { 'remove-container': 0, untag: 1, delete: 2 } as const;

/**
 * Container removals first, then untags, then deletes with children before parents. `depth` is an image's
 * number of ancestors: deeper images are deleted first. Everything else is sorted for byte-stable plans.
 */
export function orderActions(actions: PlanAction[], depth: (imageId: string) => number): PlanAction[] {
  return [...actions].sort(
    (a, b) =>
      TYPE_ORDER[a.type] - TYPE_ORDER[b.type] ||
      (a.type === 'delete' ? depth(b.imageId) - depth(a.imageId) : 0) ||
      compareText(a.imageId, b.imageId) ||
      compareText(a.ref ?? a.containerId ?? '', b.ref ?? b.containerId ?? ''),
  );
}
