import type { EngineIdentity } from '../inventory/types.js';

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
  /** delete: estimated bytes reclaimed. */
  bytes?: number;
}

export type KeptReason =
  | 'in-use'
  | 'in-use-stopped'
  | 'protected-label'
  | 'protected-id'
  | 'protected-age'
  | 'protected-reference'
  | 'parent-of-kept'
  | 'keep-newest'
  | 'partially-selected'
  | 'untag-only'
  | 'engine-prunes-parent'
  | 'not-selected';

export interface KeptImage {
  imageId: string;
  refs: string[];
  reason: KeptReason;
  detail: string;
}

export interface DiskSummary {
  evaluated: boolean;
  /** What the plan says about the disk section, e.g. "disk 91% > 85%: evicting 12 images, est. 8.2 GiB, to reach 70%". */
  message: string;
  measure: 'usage' | 'image-bytes' | null;
  before: number | null;
  limit: number | null;
  target: number | null;
  evicted: number;
  evictedBytes: number;
}

export interface PlanSummary {
  images: number;
  containers: number;
  removeContainers: number;
  untags: number;
  deletes: number;
  kept: number;
  bytes: number;
  /** "layers": shared layers counted once; "sizes": from image sizes and parent chains only. */
  estimate: 'layers' | 'sizes';
}

export interface Plan {
  kind: 'imgsweep-plan';
  version: 1;
  createdAt: string;
  engine: Pick<EngineIdentity, 'key' | 'id' | 'name' | 'kind' | 'version' | 'apiVersion' | 'host'> & {
    /** The Docker CLI context the engine was named by (--context): a plan set reaches it the same way. */
    context?: string;
  };
  policy: { name: string | null; file: string; sha256: string };
  inventory: { capturedAt: string; images: number; containers: number };
  /** Set when a limit is exceeded: apply refuses the whole plan (exit 3). */
  refused: { reason: string } | null;
  actions: PlanAction[];
  kept: KeptImage[];
  disk: DiskSummary | null;
  summary: PlanSummary;
}
