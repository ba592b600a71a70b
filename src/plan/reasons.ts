/**
 * Why the plan keeps an image or a reference, as codes with the facts that decided them. Decisions test the
 * codes; only src/report turns them into words.
 */
import type { ContainerRecord, ContainerState } from '../inventory/types.js';

/** A container as a reason names it. */
export interface ContainerRef {
  id: string;
  /** Its first name, if it has one. */
  name: string | null;
  state: ContainerState;
}

export function containerRef(c: ContainerRecord): ContainerRef {
  return { id: c.id, name: c.names[0] ?? null, state: c.state };
}

/** The protect entry that matched: its key under `protect`, and the pattern as the policy gives it. */
export type Protection =
  | { kind: 'labels' | 'images' | 'repositories' | 'tags' | 'references'; pattern: string }
  /** `youngerThan`: the floor as the policy wrote it (plans made before it was recorded lack it). */
  | { kind: 'youngerThan'; youngerThanMs: number; youngerThan?: string; since: 'created' | 'first-seen' };

/** Reasons that make a whole image immune, with all its references. */
export type ImmuneWhy =
  | { reason: 'in-use'; container: ContainerRef }
  /**
   * `stoppedForMs`: with containers.stopped: remove, it stopped less than this long ago; null: containers.stopped:
   * protect. `stoppedFor`: the same as the policy wrote it.
   */
  | { reason: 'in-use-stopped'; container: ContainerRef; stoppedForMs: number | null; stoppedFor?: string | null }
  | { reason: 'protected-label' | 'protected-id' | 'protected-age'; protection: Protection }
  /** protect.unrestorable: no registry serves it (no), or one could not be asked (unknown); `detail` says which. */
  | { reason: 'protected-unrestorable'; restorable: 'no' | 'unknown'; detail: string };

/** A reference protected by pattern (repositories, tags, references): it stays, and so does its image. */
export interface ProtectedRefWhy {
  reason: 'protected-reference';
  ref: string;
  protection: Protection;
}

/** Why one reference stays. */
export type RefKeptWhy =
  | ImmuneWhy
  | ProtectedRefWhy
  | { reason: 'not-selected' }
  /** Among the newest of its repository that the rule's keep.newest spares (no later rule selects it). */
  | { reason: 'keep-newest'; rule: string }
  /** The last reference of an image that stays: untagging it would delete the image. */
  | { reason: 'last-reference' }
  /** A digest that follows a tag of its repository that stays. */
  | { reason: 'follows-tag' };

/** Why an image stays. */
export type KeptWhy =
  | ImmuneWhy
  | ProtectedRefWhy
  /** A kept image (`child`, full ID) depends on it. */
  | { reason: 'parent-of-kept'; child: string }
  | { reason: 'keep-newest'; rule: string }
  /** Not every reference goes: `ref` stays, for `refReason`. */
  | { reason: 'partially-selected'; ref: string; refReason: 'not-selected' | 'last-reference' | 'follows-tag' }
  /** `rule` only untags, and `ref` is the image's last reference (null: the image has none). */
  | { reason: 'untag-only'; rule: string; ref: string | null }
  /** Podman would remove the untagged `parent` (full ID), which the plan keeps, along with it. */
  | { reason: 'engine-prunes-parent'; parent: string }
  | { reason: 'not-selected' };

export type KeptReason = KeptWhy['reason'];

export function isProtectedRef(why: RefKeptWhy): why is ProtectedRefWhy {
  return why.reason === 'protected-reference';
}

/** Why apply will refuse the whole plan (exit 3): a limit is exceeded. */
export interface Refusal {
  reason: 'max-deletions' | 'max-deletions-percent';
  deletes: number;
  images: number;
  /** The limit as the policy gives it: a count, or a percentage (60 for 60%). */
  limit: number;
}
