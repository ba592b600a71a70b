import type { Inventory } from '../inventory/types.js';
import { diskCapacity } from '../plan/disk.js';
import { formatBytes } from './bytes.js';
import { refsCell } from './plan-format.js';
import { plural, shortImageId, textTable } from './table.js';

/** The inventory as a table: one row per image, then the containers. */
export function formatInventoryText(inv: Inventory): string {
  const users = new Map<string, string[]>();
  for (const c of inv.containers) {
    for (const id of new Set([c.imageId, ...c.mountImageIds]))
      users.set(id, [...(users.get(id) ?? []), `${c.names[0] ?? shortImageId(c.id)}(${c.state})`]);
  }
  const images = [...inv.images].sort((a, b) => b.created.localeCompare(a.created) || a.id.localeCompare(b.id));
  // First seen and last used, as the usage record has them: what unusedFor and LRU eviction go by.
  const rows = images.map((i) => {
    const use = inv.usage[i.id];
    return [
      shortImageId(i.id),
      refsCell([...i.repoTags, ...i.repoDigests]),
      minutes(i.created),
      use ? minutes(use.firstSeen) : '-',
      use ? `${minutes(use.lastUsed)}${use.source ? ` (${use.source})` : ''}` : '-',
      formatBytes(i.size),
      i.parentId ? shortImageId(i.parentId) : '',
      (users.get(i.id) ?? []).join(', '),
    ];
  });
  const containers = [...inv.containers]
    .sort((a, b) => (a.names[0] ?? a.id).localeCompare(b.names[0] ?? b.id))
    .map((c) => [
      c.names[0] ?? '',
      c.id.slice(0, 12),
      c.state,
      shortImageId(c.imageId),
      c.image,
      (c.finishedAt ?? c.startedAt ?? c.created).slice(0, 19).replace('T', ' '),
    ]);
  const e = inv.engine;
  const out = [
    `${e.name}: ${e.kind} ${e.version} (API ${e.apiVersion}, ${e.driver}, ${e.imageStore} image store) at ${e.host}, captured ${inv.capturedAt}`,
    '',
    textTable(['IMAGE', 'REFERENCES', 'CREATED', 'FIRST SEEN', 'LAST USED', 'SIZE', 'PARENT', 'CONTAINERS'], rows),
    '',
    ...(containers.length
      ? ['Containers:', textTable(['NAME', 'ID', 'STATE', 'IMAGE', 'STARTED FROM', 'LAST CHANGE'], containers), '']
      : []),
    [plural(inv.images.length, 'image') + `, ${plural(inv.containers.length, 'container')}`, diskPart(inv)]
      .filter((part) => part !== null)
      .join('; '),
    ...(inv.buildCache !== undefined || inv.buildCacheUnavailable !== undefined ? [buildCacheLine(inv)] : []),
  ];
  return `${out.join('\n')}\n`;
}

/** The disk's figures, or why it was not measured; null when a snapshot says nothing of it. */
function diskPart(inv: Inventory): string | null {
  if (inv.disk) return diskFigures(inv.disk);
  return inv.diskUnmeasured === undefined ? null : `disk not measured: ${inv.diskUnmeasured}`;
}

/** The build cache in one line: records and bytes, what is in use or shared, and what may be reclaimed. */
function buildCacheLine(inv: Inventory): string {
  if (inv.buildCacheUnavailable !== undefined) return `build cache: cannot be read (${inv.buildCacheUnavailable})`;
  if (!inv.buildCache) return 'build cache: none (the engine keeps no BuildKit build cache)';
  const records = inv.buildCache;
  const bytes = (pick: (r: (typeof records)[number]) => boolean) =>
    formatBytes(records.filter(pick).reduce((n, r) => n + r.size, 0));
  return `build cache: ${plural(records.length, 'record')}, ${bytes(() => true)}; ${bytes((r) => r.inUse)} in use, ${bytes((r) => r.shared)} shared with images, ${bytes((r) => !r.inUse && !r.shared)} reclaimable`;
}

/** "2026-11-27T08:00:03.000Z" -> "2026-11-27 08:00". */
function minutes(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

/** The filesystem: "/var/lib/docker: 92.7% used, as df counts it (94.0 GB used, 7.4 GB available, of 107 GB)". */
export function diskFigures(disk: NonNullable<Inventory['disk']>): string {
  const percent = Math.round((disk.usedBytes / diskCapacity(disk)) * 1000) / 10;
  const used = formatBytes(disk.usedBytes);
  const total = formatBytes(disk.totalBytes);
  return disk.availableBytes === undefined
    ? `${disk.path}: ${percent}% used (${used} of ${total})`
    : `${disk.path}: ${percent}% used, as df counts it (${used} used, ${formatBytes(disk.availableBytes)} available, of ${total})`;
}
