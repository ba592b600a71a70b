import { parseReference } from '../inventory/reference.js';
import type { ContainerRef, KeptReason, KeptWhy, Protection, RefKeptWhy } from '../plan/reasons.js';
import { formatDuration } from '../policy/units.js';
import { shortImageId } from './table.js';

/** The reason codes in a few words, for counts ("7 a reference is protected"). */
export const KEPT_REASON_TEXT: Record<KeptReason, string> = {
  'in-use': 'used by a running container',
  'in-use-stopped': 'used by a stopped container',
  'protected-label': 'protected by label',
  'protected-id': 'protected by image ID',
  'protected-age': 'too young (protect.youngerThan)',
  'protected-unrestorable': 'cannot be pulled again (protect.unrestorable)',
  'protected-reference': 'a reference is protected',
  'parent-of-kept': 'parent of a kept image',
  'keep-newest': 'among the newest (keep.newest)',
  'partially-selected': 'not every reference selected',
  'untag-only': 'untag rule keeps the last reference',
  'engine-prunes-parent': 'deleting it would make the engine remove a kept parent too',
  'not-selected': 'no rule selects it',
};

/** "gitlab-runner (c4bf418b668a)", or the short ID alone for a container without a name. */
export function containerName(c: Pick<ContainerRef, 'id' | 'name'>): string {
  return c.name ? `${c.name} (${shortImageId(c.id)})` : shortImageId(c.id);
}

/** Which protect entry holds, and on what: "tag latest (protect.tags)". */
function protectionText(p: Protection, ref: string | null): string {
  switch (p.kind) {
    case 'labels':
      return `label ${p.pattern} (protect.labels)`;
    case 'images':
      return `image ID ${p.pattern.slice(0, 12)} (protect.images)`;
    case 'youngerThan':
      return `${p.since === 'created' ? 'created' : 'first seen'} less than ${p.youngerThan ?? formatDuration(p.youngerThanMs)} ago (protect.youngerThan)`;
    case 'repositories':
      return `repository ${ref ? parseReference(ref).repository : p.pattern} (protect.repositories)`;
    case 'tags':
      return `tag ${(ref && parseReference(ref).tag) ?? p.pattern} (protect.tags)`;
    case 'references':
      return `reference ${ref ?? p.pattern} (protect.references)`;
  }
}

/** Why an image, or one of its references, stays: one clause for a table cell or an explanation. */
export function keptText(why: KeptWhy | RefKeptWhy): string {
  switch (why.reason) {
    case 'in-use':
      return `used by ${why.container.state} container ${containerName(why.container)}`;
    case 'in-use-stopped': {
      // A container that never ran counts from its creation: say that, not "stopped".
      const floor = why.stoppedForMs === null ? null : (why.stoppedFor ?? formatDuration(why.stoppedForMs));
      const because =
        floor === null
          ? 'containers.stopped: protect'
          : why.container.state === 'created'
            ? `created, never started, less than ${floor} ago`
            : `stopped less than ${floor} ago`;
      return `used by ${why.container.state} container ${containerName(why.container)} (${because})`;
    }
    case 'protected-label':
    case 'protected-id':
    case 'protected-age':
      return protectionText(why.protection, null);
    case 'protected-reference':
      return protectionText(why.protection, why.ref);
    case 'protected-unrestorable':
      return `${why.restorable === 'no' ? 'cannot be pulled again' : 'not known to be restorable'}: ${why.detail} (protect.unrestorable)`;
    case 'parent-of-kept':
      return `parent of kept image ${shortImageId(why.child)}`;
    case 'keep-newest':
      return `among the newest kept by rule ${why.rule}`;
    case 'partially-selected':
      return why.refReason === 'last-reference'
        ? `${why.ref} stays as the image's last reference`
        : why.refReason === 'follows-tag'
          ? `${why.ref} follows a tag of its repository that stays`
          : `${why.ref} is not selected by any rule`;
    case 'untag-only':
      return why.ref === null
        ? `rule ${why.rule} only untags`
        : `rule ${why.rule} only untags; ${why.ref} is its last reference`;
    case 'engine-prunes-parent':
      return `Podman would also remove its untagged parent ${shortImageId(why.parent)}, which the plan keeps`;
    case 'not-selected':
      return 'no rule selects it';
    case 'last-reference':
      return 'the last reference of an image that stays (untagging it would delete the image)';
    case 'follows-tag':
      return 'follows a tag of its repository that stays';
  }
}
