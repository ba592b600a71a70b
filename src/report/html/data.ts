/**
 * The HTML report's data: a plan mapped to what the page draws (summary, repository bars, age buckets, the disk
 * gauge, table rows). Pure: "now" is the plan's createdAt, and image times come in from the planner's facts.
 */
import { parseReference } from '../../inventory/reference.js';
import { diskCapacity } from '../../plan/disk.js';
import type { ImageFacts } from '../../plan/facts.js';
import type { DiskSummary, Plan } from '../../plan/types.js';
import { firstSeenText, refusalText, summaryLine } from '../plan-format.js';
import { diskText } from '../disk-text.js';
import { planTables, type Table } from './tables.js';

/** What a plan does not say about an image and the charts need: when it was made and last used, its size. */
export interface ImageTimes {
  createdMs: number;
  lastUsedMs: number;
  size: number;
}

export interface HtmlReportInput {
  plan: Plan;
  /** By full image ID; without it the age charts and kept sizes are left out (a plan file alone lacks them). */
  images?: ReadonlyMap<string, ImageTimes>;
}

export type Fate = 'deleted' | 'untagged' | 'kept';
export const FATES: readonly Fate[] = ['deleted', 'untagged', 'kept'];

/** Age buckets: each holds what is younger than its bound and at least as old as the bucket before. */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const BUCKETS: readonly { label: string; below: number }[] = [
  { label: '< 1 h', below: HOUR },
  { label: '1 h–1 d', below: DAY },
  { label: '1–7 d', below: 7 * DAY },
  { label: '1–2 w', below: 14 * DAY },
  { label: '2–4 w', below: 28 * DAY },
  { label: '4–13 w', below: 91 * DAY },
  { label: '≥ 13 w', below: Infinity },
];

export const TOP_REPOSITORIES = 20;
/** The repository of an image without any reference. */
export const UNTAGGED = '<untagged>';

export interface RepositoryBar {
  name: string;
  /** Bytes its deletes reclaim (the plan's estimate). */
  reclaim: number;
  /** Sizes of its kept images added up (shared layers count in each). */
  kept: number;
  images: number;
  /** The bar that groups every repository after the top ones. */
  rest?: number;
}

export interface Gauge {
  measure: DiskSummary['goals'][number]['measure'];
  now: number;
  limit: number;
  target: number;
  /** After the plan (its estimate); null when the estimate is unavailable or the filesystem is unknown. */
  after: number | null;
}

export interface PageSection {
  engine: string;
  about: string;
  policy: string;
  createdAt: string;
  inventoryAt: string;
  /** plan.createdAt in ms: what "ago" counts from. */
  now: number;
  refused: string | null;
  notes: string[];
  summary: {
    line: string;
    images: number;
    deletes: number;
    untags: number;
    containers: number;
    kept: number;
    bytes: number | null;
    imageBytes: number | null;
    cacheBytes: number | null;
  };
  repositories: RepositoryBar[];
  keptSizes: boolean;
  ages: { buckets: string[]; created: number[][]; lastUsed: number[][] } | null;
  disk: { text: string; gauges: Gauge[] } | null;
  tables: Table[];
}

export function bucketOf(ageMs: number): number {
  const i = BUCKETS.findIndex((b) => ageMs < b.below);
  return i === -1 ? BUCKETS.length - 1 : i;
}

/** The repository an image is counted under: its first tag's, else its first digest's. */
export function repositoryOf(refs: readonly string[]): string {
  const ref = refs.find((r) => !r.includes('@')) ?? refs[0];
  return ref === undefined ? UNTAGGED : parseReference(ref).repository;
}

/**
 * Every image the plan names, with its fate (deleted before untagged before kept) and all its references: a kept
 * image lists them; a deleted one has those untagged first and those it still has when it goes.
 */
export function fates(plan: Plan): Map<string, { fate: Fate; refs: string[] }> {
  const out = new Map<string, { fate: Fate; refs: string[] }>();
  const untagged = new Map<string, string[]>();
  for (const a of plan.actions) {
    if (a.type !== 'untag') continue;
    const refs = untagged.get(a.imageId);
    if (refs) refs.push(a.ref ?? '');
    else untagged.set(a.imageId, [a.ref ?? '']);
  }
  for (const a of plan.actions)
    if (a.type === 'delete')
      out.set(a.imageId, { fate: 'deleted', refs: [...(untagged.get(a.imageId) ?? []), ...(a.refs ?? [])].sort() });
  for (const k of plan.kept) out.set(k.imageId, { fate: untagged.has(k.imageId) ? 'untagged' : 'kept', refs: k.refs });
  return out;
}

/** Repositories by bytes reclaimed (then kept, then name); after the top ones, one bar for the rest. */
export function repositoryBars(
  plan: Plan,
  images: ReadonlyMap<string, ImageTimes> | undefined,
  top = TOP_REPOSITORIES,
): RepositoryBar[] {
  const reclaim = new Map<string, number>();
  for (const a of plan.actions) if (a.type === 'delete') reclaim.set(a.imageId, a.bytes ?? 0);
  const bars = new Map<string, RepositoryBar>();
  for (const [id, { fate, refs }] of fates(plan)) {
    const name = repositoryOf(refs);
    let bar = bars.get(name);
    if (!bar) bars.set(name, (bar = { name, reclaim: 0, kept: 0, images: 0 }));
    bar.images++;
    if (fate === 'deleted') bar.reclaim += reclaim.get(id) ?? 0;
    else bar.kept += images?.get(id)?.size ?? 0;
  }
  const sorted = [...bars.values()].sort(
    (a, b) => b.reclaim - a.reclaim || b.kept - a.kept || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  if (sorted.length <= top + 1) return sorted;
  const others = sorted.slice(top);
  const rest: RepositoryBar = {
    name: `${others.length} other repositories`,
    reclaim: 0,
    kept: 0,
    images: 0,
    rest: others.length,
  };
  for (const o of others) {
    rest.reclaim += o.reclaim;
    rest.kept += o.kept;
    rest.images += o.images;
  }
  return [...sorted.slice(0, top), rest];
}

/** Image counts per age bucket, by creation and by last use: [bucket][fate], fates in FATES order. */
export function ageBuckets(
  plan: Plan,
  images: ReadonlyMap<string, ImageTimes>,
): { created: number[][]; lastUsed: number[][] } {
  const now = Date.parse(plan.createdAt);
  const zero = () => BUCKETS.map(() => FATES.map(() => 0));
  const created = zero();
  const lastUsed = zero();
  for (const [id, { fate }] of fates(plan)) {
    const t = images.get(id);
    if (!t) continue;
    const f = FATES.indexOf(fate);
    created[bucketOf(now - t.createdMs)]![f]!++;
    lastUsed[bucketOf(now - t.lastUsedMs)]![f]!++;
  }
  return { created, lastUsed };
}

/** Each disk limit: where it stands, its watermark and target, and where the plan leaves it. */
export function gauges(plan: Plan): Gauge[] {
  const d = plan.disk;
  if (!d) return [];
  const freed = plan.summary.bytes === null ? null : plan.summary.bytes + (plan.buildCache?.bytes ?? 0);
  return d.goals.map((g) => {
    let after: number | null = null;
    if (freed !== null && g.measure === 'image-bytes') after = Math.max(0, g.before - freed);
    if (freed !== null && g.measure === 'usage' && g.filesystem) {
      const f = g.filesystem;
      const capacity = diskCapacity({ ...f, availableBytes: f.availableBytes ?? undefined });
      after = Math.max(0, (f.usedBytes - freed) / capacity);
    }
    return { measure: g.measure, now: g.before, limit: g.limit, target: g.target, after };
  });
}

/** One engine's plan as the page shows it. */
export function pageSection({ plan, images }: HtmlReportInput): PageSection {
  const e = plan.engine;
  const s = plan.summary;
  const cache = plan.buildCache?.status === 'evaluated' ? plan.buildCache : null;
  const note = firstSeenText(plan);
  return {
    engine: e.name,
    about: `${e.kind} ${e.version}, API ${e.apiVersion}, at ${e.host}`,
    policy: plan.policy.name ? `${plan.policy.name} (${plan.policy.file})` : plan.policy.file,
    createdAt: plan.createdAt,
    inventoryAt: plan.inventory.capturedAt,
    now: Date.parse(plan.createdAt),
    refused: plan.refused ? `${refusalText(plan.refused)}; apply will refuse this plan (exit 3).` : null,
    notes: note ? [note] : [],
    summary: {
      line: summaryLine(plan),
      images: s.images,
      deletes: s.deletes,
      untags: s.untags,
      containers: s.removeContainers,
      kept: s.kept,
      bytes: s.bytes === null ? null : s.bytes + (cache?.bytes ?? 0),
      imageBytes: s.bytes,
      cacheBytes: cache ? cache.bytes : null,
    },
    repositories: repositoryBars(plan, images),
    keptSizes: images !== undefined,
    ages: images ? { buckets: BUCKETS.map((b) => b.label), ...ageBuckets(plan, images) } : null,
    disk: plan.disk ? { text: diskText(plan.disk), gauges: gauges(plan) } : null,
    tables: planTables(plan, images),
  };
}

/** The times the page needs, from the planner's facts (evaluatePolicy's `facts`). */
export function imageTimesOf(facts: ReadonlyMap<string, ImageFacts>): Map<string, ImageTimes> {
  const out = new Map<string, ImageTimes>();
  for (const [id, f] of facts) out.set(id, { createdMs: f.createdMs, lastUsedMs: f.lastUsedMs, size: f.image.size });
  return out;
}
