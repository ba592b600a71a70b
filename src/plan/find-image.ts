import { normalizedText, parseReference } from '../inventory/reference.js';
import type { ImageRecord } from '../inventory/types.js';

export type FindResult = { image: ImageRecord; ref: string | null } | { error: string };

/** Finds an image by reference (as listed or normalized), full ID, or ID prefix of at least 12 hex digits. */
export function findImage(images: readonly ImageRecord[], query: string): FindResult {
  const hex = query.toLowerCase().replace(/^sha256:/, '');
  if (/^[0-9a-f]{12,64}$/.test(hex)) {
    const hits = images.filter((i) => i.id.slice(7).startsWith(hex));
    if (hits.length === 1) return { image: hits[0]!, ref: null };
    if (hits.length > 1)
      return {
        error: `"${query}" is ambiguous: it prefixes ${hits.length} image IDs (${hits
          .slice(0, 3)
          .map((i) => i.id.slice(7, 19))
          .join(', ')}${hits.length > 3 ? ', ...' : ''})`,
      };
  }
  let wanted: string;
  try {
    wanted = normalizedText(parseReference(query));
  } catch {
    return { error: `"${query}" is not a reference or image ID` };
  }
  // Podman names local images localhost/app: "app:2" finds them too, after the usual forms.
  const local = query.includes('/') ? null : normalizedText(parseReference(`localhost/${query}`));
  for (const want of local ? [wanted, local] : [wanted]) {
    for (const image of images) {
      for (const r of [...image.repoTags, ...image.repoDigests]) {
        if (r === query || normalizedText(parseReference(r)) === want) return { image, ref: r };
      }
    }
  }
  return {
    error: `no image matches "${query}" (give a reference such as nginx:1.25, a full image ID, or at least 12 hex digits of one)`,
  };
}
