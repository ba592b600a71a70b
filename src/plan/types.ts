import type { EngineIdentity } from '../inventory/types.js';
import type { KeptWhy, Refusal } from './reasons.js';
import type { RegistrySummary } from './restorable.js';

/** The plan format's version: a plan of another version is not read. */
export const PLAN_VERSION = 3;

export type ActionType = 'remove-container' | 'untag' | 'delete';

export interface PlanAction {
  type: ActionType;
  /** Full sha256: ID of the image the step concerns. */
  imageId: string;
  /** untag: the reference removed by name. */
  ref?: string;
  /** remove-container: the container removed. */
  containerId?: string;
  /** delete: references still on the image when it is deleted by ID (removed with it). */
  refs?: string[];
  /** delete: the parent image, when the plan knows it (children are deleted before parents). */
  parentId?: string | null;
  /** The rule that decided the step (a disk eviction says "disk"). */
  rule: string;
  /** delete: estimated bytes reclaimed (absent when the estimate is unavailable). */
  bytes?: number;
  /** delete, containerd store: the platforms of a multi-platform image, all deleted with it (absent: one). */
  platforms?: number;
}

export type KeptImage = { imageId: string; refs: string[] } & KeptWhy;

/** One limit of the disk section, judged on the state before the run. */
export interface DiskGoal {
  measure: 'usage' | 'image-bytes';
  /** usage: a fraction of the filesystem (0.91); image-bytes: bytes. */
  before: number;
  limit: number;
  target: number;
  over: boolean;
  /** usage: the filesystem measured, as df shows it (availableBytes null: a snapshot without it). */
  filesystem?: { path: string; usedBytes: number; availableBytes: number | null; totalBytes: number };
}

export interface DiskSummary {
  /**
   * over-limit: evicting toward the targets; under-limit: nothing to evict; not-evaluated: no limit could be
   * judged; accounting-unavailable: the reclaim estimate could not be made, so nothing is evicted.
   */
  status: 'over-limit' | 'under-limit' | 'not-evaluated' | 'accounting-unavailable';
  goals: DiskGoal[];
  /** maxUsage is set, but the filesystem holding the engine's images cannot be measured here. */
  usageUnmeasured: boolean;
  /** Why it cannot (with usageUnmeasured). */
  usageUnmeasuredWhy?: string;
  evicted: number;
  evictedBytes: number;
  /** With a buildCache section: build-cache records the budget removes (before any image), and their bytes. */
  cacheEvicted?: number;
  cacheEvictedBytes?: number;
  /** Every over-limit goal reaches its target (false: nothing else may be evicted). */
  targetReached: boolean;
  /** accounting-unavailable: what the engine said, when the inventory records it. */
  cause: string | null;
}

/** Why a build-cache record stays. */
export type BuildCacheKeptReason =
  | 'in-use'
  | 'shared'
  | 'type-not-selected'
  | 'recently-used'
  | 'within-keep-bytes'
  /** A record under it stays: the engine removes a record only once nothing is built on it. */
  | 'parent-of-kept';

/** A build-cache record the plan removes, and which condition of the buildCache section (or the disk budget) took it. */
export interface BuildCacheRemoval {
  id: string;
  type: string;
  description: string;
  size: number;
  /** LastUsedAt, else CreatedAt. */
  lastUsedAt: string;
  reason: 'unused-for' | 'keep-bytes' | 'disk';
}

export interface BuildCachePlan {
  /**
   * not-applicable: the engine keeps no BuildKit cache imgsweep can read (Podman); unavailable: the cache could not
   * be read (`cause` says why). Either way nothing of it changes.
   */
  status: 'evaluated' | 'not-applicable' | 'unavailable';
  cause: string | null;
  /** buildCache.keepShared: apply has the engine check sharing again as it removes. */
  keepShared: boolean;
  remove: BuildCacheRemoval[];
  kept: (Omit<BuildCacheRemoval, 'reason'> & { reason: BuildCacheKeptReason })[];
  records: number;
  /** Bytes the removals free (each record's own size). */
  bytes: number;
  /** The whole cache's size before the run. */
  totalBytes: number;
}

export interface PlanSummary {
  images: number;
  containers: number;
  removeContainers: number;
  untags: number;
  deletes: number;
  kept: number;
  /** Estimated bytes the deletes reclaim; null when the estimate is unavailable. */
  bytes: number | null;
  /** "layers": exact, shared layers counted once; "unavailable": some image's layers are not known. */
  estimate: 'layers' | 'unavailable';
}

export interface Plan {
  kind: 'imgsweep-plan';
  version: typeof PLAN_VERSION;
  createdAt: string;
  engine: Pick<EngineIdentity, 'key' | 'id' | 'name' | 'kind' | 'version' | 'apiVersion' | 'host'> & {
    /** The Docker CLI context the engine was named by (--context): a plan set reaches it the same way. */
    context?: string;
  };
  policy: {
    name: string | null;
    file: string;
    sha256: string;
    /** The policy's containers.stopped: a plan may remove containers only when it is "remove". */
    stoppedContainers: 'protect' | 'remove';
  };
  inventory: { capturedAt: string; images: number; containers: number };
  /** Set when a limit is exceeded: apply refuses the whole plan (exit 3). */
  refused: Refusal | null;
  actions: PlanAction[];
  kept: KeptImage[];
  disk: DiskSummary | null;
  summary: PlanSummary;
  /** Set when many kept images are young only because imgsweep saw them first lately (a first run on a host). */
  firstSeen?: FirstSeenHold;
  /** The build cache's part, when the policy has a buildCache section: records to remove, children first. */
  buildCache?: BuildCachePlan;
  /** What registries said of the images' digests, when the policy uses restorable or protect.unrestorable. */
  registry?: RegistrySummary;
}

/**
 * Images kept by protect.youngerThan only because they were first seen within it (created before it): on the
 * first run on a host every image is first seen, so a full disk can plan nothing. Said whenever the usage
 * record was started by this run, or such images are most of those kept.
 */
export interface FirstSeenHold {
  images: number;
  /** protect.youngerThan as written. */
  youngerThan: string;
  /** When the first and the last of them become eligible. */
  eligibleFrom: string;
  eligibleBy: string;
  /** No usage record existed for this engine before this run. */
  recordStarted: boolean;
}
