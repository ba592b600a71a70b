/**
 * What changes between two plans: every image and reference whose fate differs, containers and build-cache
 * records that go in one plan only, and the change in bytes. Pure: two plans in, data out.
 */
import type { KeptWhy } from '../plan/reasons.js';
import type { KeptImage, Plan, PlanAction } from '../plan/types.js';

/** What a plan does with an image: deletes it, only untags some of its references, keeps it whole, or lacks it. */
export type ImageFateKind = 'deleted' | 'untagged' | 'kept' | 'absent';

export interface ImageFate {
  fate: ImageFateKind;
  /** The rules of its steps ("disk" for a disk eviction), or the rule a kept reason names. */
  rules: string[];
  /** Why a kept or untagged image stays; null when deleted or absent. */
  why: KeptWhy | null;
  /** The references the plan untags (deleted: every reference, which go with the image). */
  untagged: string[];
  /** Estimated bytes its deletion reclaims (0 when not deleted; null when the plan has no estimate). */
  bytes: number | null;
}

export type RefFate = 'deleted' | 'untagged' | 'kept' | 'absent';

export interface ImageChange {
  imageId: string;
  /** Its references in either plan. */
  refs: string[];
  before: ImageFate;
  after: ImageFate;
  /** The references whose own fate changes. */
  refChanges: { ref: string; before: RefFate; after: RefFate }[];
  /** after.bytes - before.bytes (null when either is unknown). */
  bytes: number | null;
}

export interface ContainerChange {
  containerId: string;
  imageId: string;
  before: 'removed' | 'kept';
  after: 'removed' | 'kept';
}

export interface CacheChange {
  id: string;
  type: string;
  description: string;
  size: number;
  /** The removal's reason (unused-for, keep-bytes, disk) or the kept reason; "absent" when not in that plan. */
  before: { removed: boolean; reason: string };
  after: { removed: boolean; reason: string };
}

export interface PlanSide {
  policy: { name: string | null; file: string; sha256: string };
  engine: { name: string; host: string; key: string };
  createdAt: string;
  inventoryCapturedAt: string;
  deletes: number;
  untags: number;
  removeContainers: number;
  /** Estimated bytes the deletions reclaim (null: no estimate). */
  bytes: number | null;
  /** Build-cache bytes the plan removes (null: no buildCache section evaluated). */
  cacheBytes: number | null;
  refused: boolean;
}

export interface PlanDiff {
  kind: 'imgsweep-plan-diff';
  version: 1;
  before: PlanSide;
  after: PlanSide;
  /** Why the two plans may differ for reasons other than their policies (other engines, other inventories). */
  notes: string[];
  images: ImageChange[];
  containers: ContainerChange[];
  buildCache: CacheChange[];
  /** after.bytes - before.bytes, null when either plan has no estimate. */
  bytes: number | null;
  /** Anything at all changes. */
  changed: boolean;
}

interface ImageView {
  fate: ImageFate;
  refs: string[];
}

function imageViews(plan: Plan): Map<string, ImageView> {
  const views = new Map<string, ImageView>();
  const steps = new Map<string, PlanAction[]>();
  for (const a of plan.actions) {
    if (a.type === 'remove-container') continue;
    steps.set(a.imageId, [...(steps.get(a.imageId) ?? []), a]);
  }
  const kept = new Map<string, KeptImage>(plan.kept.map((k) => [k.imageId, k]));
  for (const [imageId, actions] of steps) {
    const del = actions.find((a) => a.type === 'delete');
    const untagged = actions.filter((a) => a.type === 'untag').map((a) => a.ref!);
    const rules = [...new Set(actions.map((a) => a.rule))];
    const k = kept.get(imageId);
    if (del) {
      const refs = unique([...untagged, ...(del.refs ?? [])]);
      const fate: ImageFate = { fate: 'deleted', rules, why: null, untagged: refs, bytes: del.bytes ?? null };
      views.set(imageId, { fate, refs });
    } else {
      const refs = unique([...(k?.refs ?? []), ...untagged]);
      views.set(imageId, { fate: { fate: 'untagged', rules, why: k ? whyOf(k) : null, untagged, bytes: 0 }, refs });
    }
  }
  for (const k of plan.kept) {
    if (views.has(k.imageId)) continue;
    const why = whyOf(k);
    const rules = 'rule' in why && typeof why.rule === 'string' ? [why.rule] : [];
    views.set(k.imageId, { fate: { fate: 'kept', rules, why, untagged: [], bytes: 0 }, refs: k.refs });
  }
  return views;
}

function whyOf(k: KeptImage): KeptWhy {
  const { imageId: _id, refs: _refs, ...why } = k;
  return why;
}

const ABSENT: ImageFate = { fate: 'absent', rules: [], why: null, untagged: [], bytes: 0 };

function refFate(view: ImageView | undefined, ref: string): RefFate {
  if (!view) return 'absent';
  if (view.fate.fate === 'deleted') return 'deleted';
  return view.fate.untagged.includes(ref) ? 'untagged' : 'kept';
}

function sameFate(a: ImageFate, b: ImageFate): boolean {
  return a.fate === b.fate && sameSet(a.untagged, b.untagged);
}

function side(plan: Plan): PlanSide {
  const cache = plan.buildCache?.status === 'evaluated' ? plan.buildCache.bytes : null;
  return {
    policy: { name: plan.policy.name, file: plan.policy.file, sha256: plan.policy.sha256 },
    engine: { name: plan.engine.name, host: plan.engine.host, key: plan.engine.key },
    createdAt: plan.createdAt,
    inventoryCapturedAt: plan.inventory.capturedAt,
    deletes: plan.summary.deletes,
    untags: plan.summary.untags,
    removeContainers: plan.summary.removeContainers,
    bytes: plan.summary.bytes,
    cacheBytes: cache,
    refused: plan.refused !== null,
  };
}

/** The differences between plan `a` (before) and plan `b` (after), images in a stable order (by ID). */
export function diffPlans(a: Plan, b: Plan): PlanDiff {
  const va = imageViews(a);
  const vb = imageViews(b);
  const images: ImageChange[] = [];
  for (const imageId of [...new Set([...va.keys(), ...vb.keys()])].sort()) {
    const x = va.get(imageId);
    const y = vb.get(imageId);
    const before = x?.fate ?? ABSENT;
    const after = y?.fate ?? ABSENT;
    if (sameFate(before, after)) continue;
    const refs = unique([...(x?.refs ?? []), ...(y?.refs ?? [])]);
    const refChanges = refs
      .map((ref) => ({ ref, before: refFate(x, ref), after: refFate(y, ref) }))
      .filter((c) => c.before !== c.after);
    const bytes = before.bytes === null || after.bytes === null ? null : after.bytes - before.bytes;
    images.push({ imageId, refs, before, after, refChanges, bytes });
  }

  const removed = (p: Plan) =>
    new Map(p.actions.filter((x) => x.type === 'remove-container').map((x) => [x.containerId!, x.imageId]));
  const ca = removed(a);
  const cb = removed(b);
  const containers: ContainerChange[] = [...new Set([...ca.keys(), ...cb.keys()])]
    .filter((id) => ca.has(id) !== cb.has(id))
    .sort()
    .map((id) => ({
      containerId: id,
      imageId: (ca.get(id) ?? cb.get(id))!,
      before: ca.has(id) ? 'removed' : 'kept',
      after: cb.has(id) ? 'removed' : 'kept',
    }));

  const buildCache = cacheChanges(a, b);
  const sa = side(a);
  const sb = side(b);
  return {
    kind: 'imgsweep-plan-diff',
    version: 1,
    before: sa,
    after: sb,
    notes: notesOf(a, b),
    images,
    containers,
    buildCache,
    bytes: sa.bytes === null || sb.bytes === null ? null : sb.bytes - sa.bytes,
    changed: images.length + containers.length + buildCache.length > 0 || sa.refused !== sb.refused,
  };
}

function cacheChanges(a: Plan, b: Plan): CacheChange[] {
  type Entry = { removed: boolean; reason: string; type: string; description: string; size: number };
  const entries = (p: Plan) => {
    const m = new Map<string, Entry>();
    for (const r of p.buildCache?.remove ?? []) m.set(r.id, { ...r, removed: true });
    for (const k of p.buildCache?.kept ?? []) m.set(k.id, { ...k, removed: false });
    return m;
  };
  const ea = entries(a);
  const eb = entries(b);
  const out: CacheChange[] = [];
  for (const id of [...new Set([...ea.keys(), ...eb.keys()])].sort()) {
    const x = ea.get(id);
    const y = eb.get(id);
    if ((x?.removed ?? false) === (y?.removed ?? false)) continue;
    const any = (x ?? y)!;
    const view = (e: Entry | undefined) => ({ removed: e?.removed ?? false, reason: e?.reason ?? 'absent' });
    out.push({ id, type: any.type, description: any.description, size: any.size, before: view(x), after: view(y) });
  }
  return out;
}

function notesOf(a: Plan, b: Plan): string[] {
  const notes: string[] = [];
  if (a.engine.key !== b.engine.key)
    notes.push(`the plans are of different engines (${a.engine.name} and ${b.engine.name})`);
  else if (a.inventory.capturedAt !== b.inventory.capturedAt)
    notes.push(
      `the plans were made from different inventories (${a.inventory.capturedAt} and ${b.inventory.capturedAt}): some changes may come from the engine, not the policy`,
    );
  if (a.createdAt !== b.createdAt && a.inventory.capturedAt === b.inventory.capturedAt)
    notes.push(`the plans were made at different times (${a.createdAt} and ${b.createdAt}): ages differ`);
  return notes;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
