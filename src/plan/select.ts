import { repositoryNames, type Reference } from '../inventory/reference.js';
import { labelsMatch } from '../policy/patterns.js';
import type { Glob, ReferenceGlob, Rule, Selector } from '../policy/types.js';
import { compareText, type ImageFacts, type LastUsedSource } from './facts.js';

/** Why a rule did or did not select a reference (for explain). Times are ISO-8601. */
export type RuleTrace = { rule: string } & (
  | { outcome: 'selected'; action: Rule['action'] }
  | { outcome: 'no-match' }
  | { outcome: 'excluded' }
  /** One of the `newest` newest (by `by`) of `repository` (null: of the untagged images). */
  | { outcome: 'keep-newest'; newest: number; by: 'created' | 'lastUsed'; repository: string | null }
  | { outcome: 'too-young'; created: string; olderThanMs: number; olderThan: string }
  | { outcome: 'recently-used'; lastUsed: string; lastUsedFrom: LastUsedSource; unusedForMs: number; unusedFor: string }
);

export interface ImageSelection {
  /** Reference text -> first rule (file order) that selects it. */
  byRef: Map<string, Rule>;
  /** For an image without references: the first rule that selects it. */
  bare: Rule | null;
  /** The first rule whose keep.newest spared one of its references. */
  spared: string | null;
  /** Reference text ("" for a bare image) -> the first rule whose keep.newest spared it. */
  sparedRefs: Map<string, string>;
  /** Reference text ("" for a bare image) -> every rule's verdict, only when tracing. */
  traces: Map<string, RuleTrace[]> | null;
}

/** Caches glob results per distinct text: inventories repeat repositories and tags many times. */
class GlobList {
  private readonly cache = new Map<string, boolean>();
  constructor(private readonly globs: readonly Glob[]) {}
  test(text: string): boolean {
    let hit = this.cache.get(text);
    if (hit === undefined) {
      hit = this.globs.some((g) => g.test(text));
      this.cache.set(text, hit);
    }
    return hit;
  }
  anyOf(texts: readonly string[]): boolean {
    for (const t of texts) if (this.test(t)) return true;
    return false;
  }
}

export class CompiledSelector {
  private readonly repositories: GlobList | null;
  private readonly tags: GlobList | null;
  private readonly references: { repository: GlobList; tag: GlobList }[] | null;
  readonly refLevel: boolean;

  constructor(private readonly s: Selector) {
    this.repositories = s.repositories ? new GlobList(s.repositories) : null;
    this.tags = s.tags ? new GlobList(s.tags) : null;
    this.references = s.references
      ? s.references.map((r: ReferenceGlob) => ({
          repository: new GlobList([r.repository]),
          tag: new GlobList([r.tag]),
        }))
      : null;
    this.refLevel = Boolean(s.repositories || s.tags || s.references);
  }

  /** Image-level criteria: labels, image IDs, untagged, unused, restorable. */
  matchesImage(f: ImageFacts): boolean {
    const s = this.s;
    if (s.labels && !labelsMatch(s.labels, f.image.labels)) return false;
    if (s.images) {
      const hex = f.image.id.slice(7);
      if (!s.images.some((p) => hex.startsWith(p))) return false;
    }
    if (s.untagged !== null && s.untagged !== (f.tags.length === 0)) return false;
    if (s.unused !== null && s.unused !== f.unused) return false;
    // Not known either way matches neither: a deletion is never decided on a registry that could not be asked.
    if (s.restorable !== null && f.restorable.state !== 'any' && f.restorable.state !== (s.restorable ? 'yes' : 'no'))
      return false;
    return true;
  }

  /** Reference-level criteria; a selector without them covers every reference of a matching image. */
  matchesRef(ref: Reference): boolean {
    if (this.repositories && !this.repositories.anyOf(repositoryNames(ref))) return false;
    if (this.tags && (ref.tag === null || ref.kind !== 'tag' || !this.tags.test(ref.tag))) return false;
    if (this.references) {
      if (ref.kind !== 'tag') return false;
      const names = repositoryNames(ref);
      if (!this.references.some((r) => r.tag.test(ref.tag!) && r.repository.anyOf(names))) return false;
    }
    return true;
  }

  /** Bare images (no references) match only selectors without reference-level criteria. */
  matchesBare(): boolean {
    return !this.refLevel;
  }
}

interface Covered {
  facts: ImageFacts;
  ref: Reference | null;
  /** Position of the image in the walk, for its selection. */
  index: number;
}

/** Applies every rule in file order; the first rule that selects a reference is its reason. */
/** Shared by images no rule selects (most of them, in large inventories); replaced on first write. */
// Shared until an image has an entry: most images have none, and a million empty maps cost memory.
const NONE: ReadonlyMap<string, Rule> = new Map();
const NO_SPARED: ReadonlyMap<string, string> = new Map();

export function selectReferences(
  rules: readonly Rule[],
  facts: Iterable<ImageFacts>,
  now: number,
  trace: boolean,
): Map<string, ImageSelection> {
  const all = [...facts];
  const sels: ImageSelection[] = all.map(() => ({
    byRef: NONE as Map<string, Rule>,
    bare: null,
    spared: null,
    sparedRefs: NO_SPARED as Map<string, string>,
    traces: trace ? new Map() : null,
  }));
  const note = (sel: ImageSelection, key: string, t: RuleTrace) => {
    if (!sel.traces) return;
    const list = sel.traces.get(key);
    if (list) list.push(t);
    else sel.traces.set(key, [t]);
  };

  for (const rule of rules) {
    const match = new CompiledSelector(rule.match);
    const exclude = rule.exclude ? new CompiledSelector(rule.exclude) : null;
    const covered: Covered[] = [];
    all.forEach((f, i) => {
      const sel = sels[i]!;
      const imageOk = match.matchesImage(f);
      if (!imageOk && !trace) return;
      const excludedImage = exclude ? exclude.matchesImage(f) : false;
      const targets: (Reference | null)[] = f.refs.length > 0 ? f.refs : [null];
      for (const ref of targets) {
        const key = ref?.text ?? '';
        const hit = imageOk && (ref ? match.matchesRef(ref) : match.matchesBare());
        if (!hit) {
          if (trace) note(sel, key, { rule: rule.name, outcome: 'no-match' });
          continue;
        }
        if (exclude && excludedImage && (ref ? exclude.matchesRef(ref) : exclude.matchesBare())) {
          if (trace) note(sel, key, { rule: rule.name, outcome: 'excluded' });
          continue;
        }
        covered.push({ facts: f, ref, index: i });
      }
    });
    const spared = rule.keep ? keepNewest(rule, covered) : null;
    for (const { facts: f, ref, index } of covered) {
      const sel = sels[index]!;
      const key = ref?.text ?? '';
      if (spared?.has(f) && spared.get(f)!.has(groupOf(ref))) {
        sel.spared ??= rule.name;
        if (sel.sparedRefs === NO_SPARED) sel.sparedRefs = new Map();
        if (!sel.sparedRefs.has(key)) sel.sparedRefs.set(key, rule.name);
        if (trace)
          note(sel, key, {
            rule: rule.name,
            outcome: 'keep-newest',
            newest: rule.keep!.newest,
            by: rule.keep!.by,
            repository: ref ? groupOf(ref) : null,
          });
        continue;
      }
      if (rule.olderThanMs !== null && !(now - f.createdMs > rule.olderThanMs)) {
        if (trace)
          note(sel, key, {
            rule: rule.name,
            outcome: 'too-young',
            created: new Date(f.createdMs).toISOString(),
            olderThanMs: rule.olderThanMs,
            olderThan: rule.olderThan!,
          });
        continue;
      }
      if (rule.unusedForMs !== null && !(now - f.lastUsedMs > rule.unusedForMs)) {
        if (trace)
          note(sel, key, {
            rule: rule.name,
            outcome: 'recently-used',
            lastUsed: new Date(f.lastUsedMs).toISOString(),
            lastUsedFrom: f.lastUsedFrom,
            unusedForMs: rule.unusedForMs,
            unusedFor: rule.unusedFor!,
          });
        continue;
      }
      if (trace) note(sel, key, { rule: rule.name, outcome: 'selected', action: rule.action });
      if (ref) {
        if (sel.byRef === NONE) sel.byRef = new Map();
        if (!sel.byRef.has(ref.text)) sel.byRef.set(ref.text, rule);
      } else if (!sel.bare) sel.bare = rule;
    }
  }
  const out = new Map<string, ImageSelection>();
  all.forEach((f, i) => out.set(f.image.id, sels[i]!));
  return out;
}

function groupOf(ref: Reference | null): string {
  return ref ? ref.normalized : '';
}

/** The images spared per repository group: image -> groups in which it is among the N newest. */
function keepNewest(rule: Rule, covered: Covered[]): Map<ImageFacts, Set<string>> {
  const keep = rule.keep!;
  const groups = new Map<string, Set<ImageFacts>>();
  for (const { facts, ref } of covered) {
    const g = groupOf(ref);
    const set = groups.get(g);
    if (set) set.add(facts);
    else groups.set(g, new Set([facts]));
  }
  const spared = new Map<ImageFacts, Set<string>>();
  const key = (f: ImageFacts) => (keep.by === 'lastUsed' ? f.lastUsedMs : f.createdMs);
  for (const [g, images] of groups) {
    const ranked = [...images].sort(
      (a, b) => key(b) - key(a) || b.createdMs - a.createdMs || compareText(a.image.id, b.image.id),
    );
    for (const f of ranked.slice(0, keep.newest)) {
      const set = spared.get(f);
      if (set) set.add(g);
      else spared.set(f, new Set([g]));
    }
  }
  return spared;
}
