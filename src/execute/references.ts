import { parseReference } from '../inventory/reference.js';
import type { Plan } from '../plan/types.js';

/**
 * The references a plan may remove from each image: those it untags, those its delete removes, and the
 * digests of a repository whose tags it untags (the engine drops them with the repository's last tag).
 */
export function plannedReferences(plan: Plan): Map<string, (ref: string) => boolean> {
  const named = new Map<string, Set<string>>();
  for (const a of plan.actions) {
    const refs = a.type === 'untag' ? [a.ref!] : a.type === 'delete' ? (a.refs ?? []) : [];
    for (const r of refs) named.set(a.imageId, (named.get(a.imageId) ?? new Set()).add(r));
  }
  const out = new Map<string, (ref: string) => boolean>();
  for (const [id, refs] of named) {
    const repos = new Set([...refs].map((r) => parseReference(r).normalized));
    out.set(id, (ref) => refs.has(ref) || (ref.includes('@') && repos.has(parseReference(ref).normalized)));
  }
  return out;
}

/**
 * Whether removing `ref` by name would leave the image without any reference, which would make the engine
 * delete the image itself: digests of a repository go with its last tag.
 */
export function isLastReference(ref: string, tags: readonly string[], digests: readonly string[]): boolean {
  const removed = parseReference(ref);
  const tagsLeft = tags.filter((t) => t !== ref);
  if (tagsLeft.length > 0) return false;
  const digestsLeft = digests.filter(
    (d) => d !== ref && !(removed.kind === 'tag' && parseReference(d).normalized === removed.normalized),
  );
  return digestsLeft.length === 0;
}
