import type { ImageFacts } from './facts.js';

/**
 * Bytes reclaimed by deleting each image. With layer data for every image, a layer counts only when
 * every image using it goes; otherwise sizes and parent chains (an image's size includes its parent's).
 */
export function estimateReclaim(facts: Map<string, ImageFacts>, deleted: Set<string>): { perImage: Map<string, number>; mode: 'layers' | 'sizes' } {
  const perImage = new Map<string, number>();
  const all = [...facts.values()];
  if (all.length > 0 && all.every((f) => f.image.layers !== undefined)) {
    const users = new Map<string, { size: number; ids: string[] }>();
    for (const f of all) {
      for (const l of f.image.layers!) {
        const u = users.get(l.digest);
        if (u) u.ids.push(f.image.id);
        else users.set(l.digest, { size: l.size, ids: [f.image.id] });
      }
    }
    for (const id of deleted) perImage.set(id, 0);
    for (const { size, ids } of users.values()) {
      if (!ids.every((id) => deleted.has(id))) continue;
      // Attribute a shared layer to the first deleted user (by ID) so the per-image figures add up.
      const owner = [...ids].sort()[0]!;
      perImage.set(owner, perImage.get(owner)! + size);
    }
    return { perImage, mode: 'layers' };
  }
  for (const id of deleted) {
    const f = facts.get(id)!;
    const own = f.parent ? Math.max(0, f.image.size - f.parent.image.size) : f.image.size;
    perImage.set(id, own);
  }
  return { perImage, mode: 'sizes' };
}
