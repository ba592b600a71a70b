import { parseReference, type Reference } from '../inventory/reference.js';
import {
  isRunning,
  type ContainerRecord,
  type ImageRecord,
  type Inventory,
  type UsageEntry,
} from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { restorabilityOf, type Restorability } from './restorable.js';

const NO_CONTAINERS: ContainerUse[] = [];

export interface ContainerUse {
  container: ContainerRecord;
  running: boolean;
  /** Stopped, and `containers.stopped: remove` allows removing it now. */
  removable: boolean;
  /** When it stopped (or was created, if it never ran), ms. */
  stoppedSince: number | null;
}

/** Where an image's last-used time comes from. */
export type LastUsedSource =
  /** The usage record; `source` as it recorded it ("container", "event", "first-seen"), when it did. */
  { kind: 'record'; source: string | null } | { kind: 'created' } | { kind: 'container'; id: string; running: boolean };

/** Everything the planner needs to know about one image, computed once. */
export interface ImageFacts {
  image: ImageRecord;
  refs: Reference[];
  tags: Reference[];
  createdMs: number;
  lastUsedMs: number;
  firstSeenMs: number | null;
  lastUsedFrom: LastUsedSource;
  containers: ContainerUse[];
  /** A running (also paused/restarting) container uses it. */
  running: boolean;
  /** A stopped container that may not be removed uses it. */
  heldByStopped: boolean;
  /** No container will use it once allowed stopped-container removals are done. */
  unused: boolean;
  parent: ImageFacts | null;
  children: ImageFacts[];
  depth: number;
  /** Whether a registry still serves it (for protect.unrestorable and match.restorable). */
  restorable: Restorability;
}

function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const v = Date.parse(iso);
  return Number.isNaN(v) ? null : v;
}

export function containerUse(c: ContainerRecord, policy: Policy, now: number): ContainerUse {
  const running = isRunning(c.state);
  const created = ms(c.created);
  const finished = ms(c.finishedAt);
  const stoppedSince = running
    ? null
    : finished !== null && (created === null || finished >= created)
      ? finished
      : created;
  const removable =
    !running &&
    policy.containers.stopped === 'remove' &&
    stoppedSince !== null &&
    now - stoppedSince >= policy.containers.stoppedForMs;
  return { container: c, running, removable, stoppedSince };
}

/** Image facts for the whole inventory, with parent/child links and container use resolved. */
export function imageFacts(
  inventory: Inventory,
  policy: Policy,
  now: number,
  usage: Record<string, UsageEntry>,
  /** Plan as if every image with a digest might be restorable: to learn which images to ask registries about. */
  assumeRestorableAny = false,
): Map<string, ImageFacts> {
  const uses = new Map<string, ContainerUse[]>();
  for (const c of inventory.containers) {
    const use = containerUse(c, policy, now);
    for (const id of new Set([c.imageId, ...c.mountImageIds])) {
      const list = uses.get(id);
      if (list) list.push(use);
      else uses.set(id, [use]);
    }
  }
  const facts = new Map<string, ImageFacts>();
  // Sorted by ID: every later walk over the map is then independent of the inventory's order.
  const images = [...inventory.images].sort((a, b) => compareText(a.id, b.id));
  for (const image of images) {
    const refs = image.repoTags.concat(image.repoDigests).map(parseReference);
    if (refs.length > 1) refs.sort((a, b) => compareText(a.text, b.text));
    const containers = uses.get(image.id) ?? NO_CONTAINERS;
    if (containers.length > 1) containers.sort((a, b) => compareText(a.container.id, b.container.id));
    const createdMs = ms(image.created) ?? 0;
    const entry = usage[image.id];
    const running = containers.some((u) => u.running);
    const heldByStopped = containers.some((u) => !u.running && !u.removable);
    let lastUsedMs = ms(entry?.lastUsed) ?? createdMs;
    let lastUsedFrom: LastUsedSource = entry ? { kind: 'record', source: entry.source ?? null } : { kind: 'created' };
    for (const u of containers) {
      const c = u.container;
      const seen = u.running ? now : Math.max(ms(c.created) ?? 0, ms(c.startedAt) ?? 0, ms(c.finishedAt) ?? 0);
      if (seen > lastUsedMs) {
        lastUsedMs = seen;
        lastUsedFrom = { kind: 'container', id: c.id, running: u.running };
      }
    }
    facts.set(image.id, {
      image,
      refs,
      tags: refs.filter((r) => r.kind === 'tag'),
      createdMs,
      lastUsedMs,
      firstSeenMs: ms(entry?.firstSeen),
      lastUsedFrom,
      restorable: restorabilityOf(image, inventory.registry?.answers, assumeRestorableAny),
      containers,
      running,
      heldByStopped,
      unused: !running && !heldByStopped,
      parent: null,
      children: [],
      depth: UNKNOWN,
    });
  }
  for (const f of facts.values()) {
    const parent = f.image.parentId ? facts.get(f.image.parentId) : undefined;
    if (parent && parent !== f) {
      f.parent = parent;
      parent.children.push(f);
    }
  }
  for (const f of facts.values()) setDepth(f);
  return facts;
}

/** `depth` while not known yet, and while on the chain being walked. */
const UNKNOWN = -1;
const ON_CHAIN = -2;

/**
 * Sets the number of ancestors of an image and of the images above it whose depth is not known yet; a parent
 * loop (a damaged inventory) ends the count. Each image's depth is its own memo: a million images need no map.
 */
function setDepth(f: ImageFacts): void {
  const chain: ImageFacts[] = [];
  let above = -1; // depth of the image just above the chain's last, when known
  for (let p: ImageFacts | null = f; p && p.depth !== ON_CHAIN; p = p.parent) {
    if (p.depth !== UNKNOWN) {
      above = p.depth;
      break;
    }
    p.depth = ON_CHAIN;
    chain.push(p);
  }
  for (let i = chain.length - 1, d = above + 1; i >= 0; i--, d++) chain[i]!.depth = d;
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
