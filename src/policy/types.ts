/** The validated, typed policy: durations in ms, sizes in bytes, patterns compiled. */

export interface Glob {
  source: string;
  test(text: string): boolean;
}

/** A repository:tag glob, matched as a repository glob and a tag glob; test() takes "repo:tag". */
export interface ReferenceGlob extends Glob {
  repository: Glob;
  tag: Glob;
}

export interface LabelMatcher {
  source: string;
  key: string;
  /** null: the key being present is enough. */
  value: string | null;
}

/** A set of criteria; fields are ANDed, list items ORed. null means "not constrained". */
export interface Selector {
  repositories: Glob[] | null;
  tags: Glob[] | null;
  references: ReferenceGlob[] | null;
  labels: LabelMatcher[] | null;
  /** Lower-case hex prefixes without "sha256:". */
  images: string[] | null;
  untagged: boolean | null;
  unused: boolean | null;
  /** Whether a registry still serves one of the image's digests; an image not known either way matches neither. */
  restorable: boolean | null;
}

export interface Rule {
  name: string;
  /** Position in the file, 0-based: the first rule that selects a reference is its reason. */
  index: number;
  match: Selector;
  exclude: Selector | null;
  olderThanMs: number | null;
  unusedForMs: number | null;
  /** The durations as the policy wrote them ("60d"), for messages. */
  olderThan: string | null;
  unusedFor: string | null;
  keep: { newest: number; per: 'repository'; by: 'created' | 'lastUsed' } | null;
  action: 'delete' | 'untag';
}

export interface Protect {
  repositories: Glob[];
  tags: Glob[];
  references: ReferenceGlob[];
  labels: LabelMatcher[];
  images: string[];
  youngerThanMs: number | null;
  /** As the policy wrote it. */
  youngerThan: string | null;
  /** Keep every image not known to be restorable (no digest a registry still serves, or a registry not asked). */
  unrestorable: boolean;
}

export interface DiskPolicy {
  maxUsage: number | null;
  targetUsage: number | null;
  maxImageBytes: number | null;
  targetImageBytes: number | null;
  order: 'lru';
}

/** BuildKit's cache record types, as the engine's /system/df names them. */
export const BUILD_CACHE_TYPES = [
  'regular',
  'exec.cachemount',
  'source.local',
  'source.git.checkout',
  'frontend',
  'internal',
] as const;
export type BuildCacheType = (typeof BUILD_CACHE_TYPES)[number];

/** Which build-cache records may go: only unused ones ever; shared ones only without keepShared. */
export interface BuildCachePolicy {
  unusedForMs: number | null;
  /** As the policy wrote it. */
  unusedFor: string | null;
  keepBytes: number | null;
  types: BuildCacheType[];
  keepShared: boolean;
}

export interface Policy {
  version: 1;
  name: string | null;
  /** Where it was read from, as given. */
  file: string;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  protect: Protect;
  /** stoppedFor: as the policy wrote it ("1h" when it does not). */
  containers: { stopped: 'protect' | 'remove'; stoppedForMs: number; stoppedFor: string };
  rules: Rule[];
  /** null: the policy has no buildCache section, and the build cache is left alone. */
  buildCache: BuildCachePolicy | null;
  disk: DiskPolicy | null;
  limits: { maxDeletions: number | null; maxDeletionsPercent: number | null };
}
