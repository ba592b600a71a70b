import { repositoryNames, type Reference } from '../inventory/reference.js';
import type { Policy } from '../policy/types.js';
import { labelsMatch } from '../policy/patterns.js';
import { CompiledSelector, type ImageSelection } from './select.js';
import type { ContainerUse, ImageFacts } from './facts.js';
import {
  containerRef,
  isProtectedRef,
  type ImmuneWhy,
  type KeptWhy,
  type Protection,
  type RefKeptWhy,
} from './reasons.js';

export type RefFate =
  | { fate: 'keep'; why: RefKeptWhy }
  | { fate: 'untag'; rule: string }
  /** Removed by the image's delete (the reference left when it is deleted by ID). */
  | { fate: 'delete'; rule: string }
  /** A digest reference that goes with the last tag of its repository. */
  | { fate: 'with-tag'; rule: string };

export interface ImageDecision {
  facts: ImageFacts;
  immune: ImmuneWhy | null;
  fates: Map<string, RefFate>;
  deleteRule: string | null;
  /** References untagged by name, in order. */
  untags: { ref: Reference; rule: string }[];
  /** References still on the image when it is deleted by ID. */
  finalRefs: string[];
  removeContainers: ContainerUse[];
  kept: KeptWhy | null;
}

function immunity(f: ImageFacts, policy: Policy, now: number): ImmuneWhy | null {
  const running = f.containers.find((u) => u.running);
  if (running) return { reason: 'in-use', container: containerRef(running.container) };
  const label = labelsMatch(policy.protect.labels, f.image.labels);
  if (label) return { reason: 'protected-label', protection: { kind: 'labels', pattern: label.source } };
  const hex = f.image.id.slice(7);
  const id = policy.protect.images.find((p) => hex.startsWith(p));
  if (id) return { reason: 'protected-id', protection: { kind: 'images', pattern: id } };
  const floor = policy.protect.youngerThanMs;
  if (floor !== null) {
    const since =
      now - f.createdMs < floor
        ? 'created'
        : f.firstSeenMs !== null && now - f.firstSeenMs < floor
          ? 'first-seen'
          : null;
    if (since)
      return {
        reason: 'protected-age',
        protection: { kind: 'youngerThan', youngerThanMs: floor, youngerThan: policy.protect.youngerThan!, since },
      };
  }
  if (policy.protect.unrestorable && (f.restorable.state === 'no' || f.restorable.state === 'unknown'))
    return { reason: 'protected-unrestorable', restorable: f.restorable.state, detail: f.restorable.detail };
  const stopped = f.containers.find((u) => !u.running && !u.removable);
  if (stopped) {
    const remove = policy.containers.stopped === 'remove';
    return {
      reason: 'in-use-stopped',
      container: containerRef(stopped.container),
      stoppedForMs: remove ? policy.containers.stoppedForMs : null,
      stoppedFor: remove ? policy.containers.stoppedFor : null,
    };
  }
  return null;
}

/** Reference-level protection: repositories, tags and references patterns, with the pattern that matched. */
function refProtection(policy: Policy): (ref: Reference) => Protection | null {
  const { repositories, tags, references } = policy.protect;
  const repo = new CompiledSelector({
    repositories,
    tags: null,
    references: null,
    labels: null,
    images: null,
    untagged: null,
    unused: null,
    restorable: null,
  });
  const tag = new CompiledSelector({
    repositories: null,
    tags,
    references: null,
    labels: null,
    images: null,
    untagged: null,
    unused: null,
    restorable: null,
  });
  const full = new CompiledSelector({
    repositories: null,
    tags: null,
    references,
    labels: null,
    images: null,
    untagged: null,
    unused: null,
    restorable: null,
  });
  // The compiled selectors cache their answers per text; which pattern matched is looked up only on a hit.
  return (ref) => {
    if (repositories.length && repo.matchesRef(ref)) {
      const names = repositoryNames(ref);
      return { kind: 'repositories', pattern: repositories.find((g) => names.some((n) => g.test(n)))!.source };
    }
    if (tags.length && ref.kind === 'tag' && tag.matchesRef(ref))
      return { kind: 'tags', pattern: tags.find((g) => g.test(ref.tag!))!.source };
    if (references.length && ref.kind === 'tag' && full.matchesRef(ref)) {
      const names = repositoryNames(ref);
      return {
        kind: 'references',
        pattern: references.find((r) => r.tag.test(ref.tag!) && names.some((n) => r.repository.test(n)))!.source,
      };
    }
    return null;
  };
}

/** Decides each image's fate: delete, untag some references, or keep (with the reason). */
export function decideImages(
  policy: Policy,
  facts: Map<string, ImageFacts>,
  selections: Map<string, ImageSelection>,
  now: number,
): Map<string, ImageDecision> {
  const protectedBy = refProtection(policy);
  const decisions = new Map<string, ImageDecision>();
  for (const f of facts.values()) {
    const sel = selections.get(f.image.id)!;
    const d: ImageDecision = {
      facts: f,
      immune: immunity(f, policy, now),
      fates: new Map(),
      deleteRule: null,
      untags: [],
      finalRefs: [],
      removeContainers: [],
      kept: null,
    };
    decisions.set(f.image.id, d);
    if (d.immune) {
      for (const r of f.refs) d.fates.set(r.text, { fate: 'keep', why: d.immune });
      d.kept = d.immune;
      continue;
    }
    d.deleteRule = deleteCandidate(f, sel, protectedBy, d);
  }
  // An image that stays keeps its whole parent chain.
  for (const d of decisions.values()) {
    if (d.deleteRule !== null) continue;
    // Stop at an ancestor that stays anyway: its own walk covers the rest of the chain.
    for (let p = d.facts.parent, child = d.facts; p; child = p, p = p.parent) {
      const pd = decisions.get(p.image.id)!;
      if (pd.deleteRule === null) break;
      pd.deleteRule = null;
      pd.kept = { reason: 'parent-of-kept', child: child.image.id };
    }
  }
  for (const d of decisions.values()) {
    if (d.immune) continue;
    if (d.deleteRule !== null) planDelete(d);
    else planKeep(d, selections.get(d.facts.image.id)!);
  }
  return decisions;
}

/** Records each reference's selection and returns the delete rule when the image can go. */
function deleteCandidate(
  f: ImageFacts,
  sel: ImageSelection,
  protectedBy: (r: Reference) => Protection | null,
  d: ImageDecision,
): string | null {
  if (f.refs.length === 0) return sel.bare && sel.bare.action === 'delete' ? sel.bare.name : null;
  const tagged = (repo: string) => f.tags.some((t) => t.normalized === repo);
  let all = true;
  let deleteRule: string | null = null;
  for (const r of f.refs) {
    const protection = protectedBy(r);
    if (protection) {
      d.fates.set(r.text, { fate: 'keep', why: { reason: 'protected-reference', ref: r.text, protection } });
      all = false;
      continue;
    }
    const rule = sel.byRef.get(r.text);
    if (r.kind === 'digest' && tagged(r.normalized)) continue; // follows its repository's tags
    if (!rule) {
      all = false;
      continue;
    }
    if (rule.action === 'delete') deleteRule ??= rule.name;
  }
  return all ? deleteRule : null;
}

/** Turns a decision into a delete by `rule` (used for rule deletions and disk evictions). */
export function planDelete(d: ImageDecision, rule = d.deleteRule!): void {
  const f = d.facts;
  d.deleteRule = rule;
  d.kept = null;
  d.untags = [];
  d.finalRefs = [];
  for (const [text, fate] of d.fates) if (fate.fate !== 'keep' || !isProtectedRef(fate.why)) d.fates.delete(text);
  const finalRepo = (f.tags[0] ?? f.refs[0])?.normalized;
  const finalTag = f.tags[0];
  // A digest listed as a name (Podman, after a pull by digest) is removed by name like a tag: Podman refuses
  // to delete by ID an image that holds more than one name. An image with no tag keeps it for the delete.
  const namedDigest = (r: Reference) => finalTag !== undefined && isNamedDigest(f, r);
  for (const r of f.refs) {
    const chosen =
      !namedDigest(r) &&
      ((finalTag ? r === finalTag : r.normalized === finalRepo) || (r.kind === 'digest' && r.normalized === finalRepo));
    const ruleOf = (x: Reference) => d.fates.get(x.text);
    if (chosen) {
      d.finalRefs.push(r.text);
      if (!ruleOf(r)) d.fates.set(r.text, { fate: 'delete', rule });
    } else if (r.kind === 'digest' && !namedDigest(r) && f.tags.some((t) => t.normalized === r.normalized)) {
      d.fates.set(r.text, { fate: 'with-tag', rule });
    } else {
      d.fates.set(r.text, { fate: 'untag', rule });
      d.untags.push({ ref: r, rule });
    }
  }
  d.removeContainers = f.containers.filter((u) => u.removable);
}

/** A digest listed as a name of its own (Podman, after a pull by digest): it stays until removed by name. */
function isNamedDigest(f: ImageFacts, r: Reference): boolean {
  return r.kind === 'digest' && f.image.repoTags.includes(r.text);
}

function planKeep(d: ImageDecision, sel: ImageSelection): void {
  const f = d.facts;
  const taggedRepos = new Set(f.tags.map((t) => t.normalized));
  const untag: Reference[] = [];
  // A repository's digests go with its last tag, except one that is a name of its own.
  const dependentOf = (r: Reference) => r.kind === 'digest' && !isNamedDigest(f, r) && taggedRepos.has(r.normalized);
  for (const r of f.refs) {
    if (d.fates.has(r.text)) continue; // protected
    const rule = sel.byRef.get(r.text);
    const dependent = dependentOf(r);
    if (rule && !dependent) untag.push(r);
    else if (!dependent) {
      const spared = sel.sparedRefs.get(r.text);
      d.fates.set(r.text, {
        fate: 'keep',
        why: spared === undefined ? { reason: 'not-selected' } : { reason: 'keep-newest', rule: spared },
      });
    }
  }
  // Never remove the last reference: that would delete the image. A tag (or a digest of a repository
  // without tags) must survive; digests of a repository go with its last tag.
  const survives = (r: Reference) => !untag.includes(r) && !dependentOf(r);
  let lastKept: Reference | null = null;
  if (untag.length > 0 && !f.refs.some(survives)) {
    lastKept = untag.find((r) => r.kind === 'tag') ?? untag[0]!;
    untag.splice(untag.indexOf(lastKept), 1);
    d.fates.set(lastKept.text, { fate: 'keep', why: { reason: 'last-reference' } });
  }
  for (const r of untag) {
    const rule = sel.byRef.get(r.text)!.name;
    d.fates.set(r.text, { fate: 'untag', rule });
    d.untags.push({ ref: r, rule });
  }
  for (const r of f.refs) {
    if (d.fates.has(r.text)) continue;
    const goes = !f.tags.some((t) => t.normalized === r.normalized && d.fates.get(t.text)?.fate === 'keep');
    d.fates.set(
      r.text,
      goes ? { fate: 'with-tag', rule: d.untags[0]?.rule ?? '' } : { fate: 'keep', why: { reason: 'follows-tag' } },
    );
  }
  d.kept ??= keptReason(d, sel, lastKept);
}

function keptReason(d: ImageDecision, sel: ImageSelection, lastKept: Reference | null): KeptWhy {
  const f = d.facts;
  // f.refs is sorted: the first matching reference is the one reported, whatever the map's order.
  const keptRef = (pred: (why: RefKeptWhy) => boolean): { ref: Reference; why: RefKeptWhy } | undefined => {
    for (const ref of f.refs) {
      const x = d.fates.get(ref.text);
      if (x?.fate === 'keep' && pred(x.why)) return { ref, why: x.why };
    }
    return undefined;
  };
  const prot = keptRef(isProtectedRef)?.why;
  if (prot?.reason === 'protected-reference') return prot;
  const rules = [...sel.byRef.values()];
  if (lastKept && rules.length > 0 && rules.every((r) => r.action === 'untag'))
    return { reason: 'untag-only', rule: rules[0]!.name, ref: lastKept.text };
  if (f.refs.length === 0 && sel.bare?.action === 'untag')
    return { reason: 'untag-only', rule: sel.bare.name, ref: null };
  if (lastKept) return { reason: 'partially-selected', ref: lastKept.text, refReason: 'last-reference' };
  const unselected = sel.byRef.size > 0 ? keptRef(() => true) : undefined;
  const refReason = unselected?.why.reason;
  if (unselected && (refReason === 'not-selected' || refReason === 'follows-tag' || refReason === 'last-reference')) {
    return { reason: 'partially-selected', ref: unselected.ref.text, refReason };
  }
  if (sel.spared) return { reason: 'keep-newest', rule: sel.spared };
  return { reason: 'not-selected' };
}
