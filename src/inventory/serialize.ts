/** Canonical, byte-stable JSON for inventory snapshots, and writing them atomically. */
import { writeFileAtomic } from '../atomic-write.js';
import type { ContainerRecord, ImageRecord, Inventory, UsageEntry } from './types.js';

/** Canonical JSON: sorted lists and keys in a fixed order, so equal inventories give equal bytes. */
export function serializeInventory(inv: Inventory): string {
  const out: Record<string, unknown> = {
    kind: inv.kind,
    version: inv.version,
    capturedAt: inv.capturedAt,
    engine: {
      key: inv.engine.key,
      id: inv.engine.id,
      name: inv.engine.name,
      kind: inv.engine.kind,
      version: inv.engine.version,
      apiVersion: inv.engine.apiVersion,
      rootDir: inv.engine.rootDir,
      driver: inv.engine.driver,
      imageStore: inv.engine.imageStore,
      ...(inv.engine.containerdRoot === undefined ? {} : { containerdRoot: inv.engine.containerdRoot }),
      host: inv.engine.host,
    },
    images: [...inv.images].sort(byId).map(canonicalImage),
    containers: [...inv.containers].sort(byId).map(canonicalContainer),
    usage: sortedObject(inv.usage, canonicalUsage),
  };
  if (inv.disk !== undefined) {
    out.disk = inv.disk && {
      totalBytes: inv.disk.totalBytes,
      usedBytes: inv.disk.usedBytes,
      ...(inv.disk.availableBytes === undefined ? {} : { availableBytes: inv.disk.availableBytes }),
      path: inv.disk.path,
    };
  }
  if (inv.diskUnmeasured !== undefined) out.diskUnmeasured = inv.diskUnmeasured;
  if (inv.accountingUnavailable !== undefined) out.accountingUnavailable = inv.accountingUnavailable;
  if (inv.buildCache !== undefined)
    out.buildCache = inv.buildCache && [...inv.buildCache].sort(byId).map((r) => ({ ...r, parents: [...r.parents] }));
  if (inv.buildCacheUnavailable !== undefined) out.buildCacheUnavailable = inv.buildCacheUnavailable;
  if (inv.registry !== undefined) {
    out.registry = {
      answers: sortedObject(inv.registry.answers, (a) => ({
        status: a.status,
        registry: a.registry,
        reason: a.reason,
        at: a.at,
      })),
      ...(inv.registry.calls === undefined ? {} : { calls: inv.registry.calls }),
    };
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

function canonicalImage(img: ImageRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: img.id,
    parentId: img.parentId,
    repoTags: sorted(img.repoTags),
    repoDigests: sorted(img.repoDigests),
    created: img.created,
    size: img.size,
    sharedSize: img.sharedSize,
    labels: sortedObject(img.labels, (v) => v),
  };
  // Layer order is the image's RootFS order: never sorted.
  if (img.layers) out.layers = img.layers.map((l) => ({ digest: l.digest, size: l.size }));
  if (img.platforms) out.platforms = { total: img.platforms.total, available: img.platforms.available };
  return out;
}

function canonicalContainer(c: ContainerRecord): Record<string, unknown> {
  return {
    id: c.id,
    names: [...c.names],
    imageId: c.imageId,
    image: c.image,
    state: c.state,
    created: c.created,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    mountImageIds: sorted(c.mountImageIds),
  };
}

function canonicalUsage(u: UsageEntry): Record<string, unknown> {
  return u.source === undefined
    ? { firstSeen: u.firstSeen, lastUsed: u.lastUsed }
    : { firstSeen: u.firstSeen, lastUsed: u.lastUsed, source: u.source };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byId = (a: { id: string }, b: { id: string }): number => compare(a.id, b.id);
const sorted = (list: string[]): string[] => [...list].sort(compare);

/** fromEntries defines own keys, so a "__proto__" label stays a label. */
function sortedObject<T>(obj: Record<string, T>, map: (v: T) => unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(obj)
      .sort(compare)
      .map((k) => [k, map(obj[k]!)]),
  );
}

/** Atomic: a reader sees the old file or the new one, never half of one. */
export async function writeInventoryFile(path: string, inv: Inventory): Promise<void> {
  await writeFileAtomic(path, serializeInventory(inv));
}
