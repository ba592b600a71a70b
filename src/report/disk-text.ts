import type { DiskGoal, DiskSummary } from '../plan/types.js';
import { formatBytes } from './bytes.js';
import { plural } from './table.js';

const usageUnmeasured = (d: DiskSummary) =>
  `maxUsage not evaluated: ${d.usageUnmeasuredWhy ?? "the filesystem holding the engine's images cannot be measured here"}; only maxImageBytes applies`;

function amount(g: DiskGoal, v: number): string {
  return g.measure === 'usage' ? `${Math.round(v * 1000) / 10}%` : formatBytes(v);
}

function measured(g: DiskGoal, withCache: boolean): string {
  if (g.measure !== 'usage') return withCache ? 'images and build cache' : 'images';
  const f = g.filesystem;
  if (!f) return 'disk';
  return f.availableBytes === null
    ? `disk ${f.path} (${formatBytes(f.usedBytes)} used of ${formatBytes(f.totalBytes)})`
    : `disk ${f.path} (${formatBytes(f.usedBytes)} used, ${formatBytes(f.availableBytes)} available: df's Use%)`;
}

/** What the disk section decided, e.g. "disk 91% > 85%: evicting 12 images, est. 8.2 GB, to reach 70%". */
export function diskText(d: DiskSummary): string {
  let text: string;
  switch (d.status) {
    case 'accounting-unavailable':
      text = `disk budget skipped: the engine's disk accounting is unavailable (${d.cause ?? "the images' layers are not known"})`;
      break;
    case 'not-evaluated':
      text = 'disk limits not evaluated';
      break;
    case 'over-limit': {
      const cache =
        d.cacheEvicted === undefined
          ? ''
          : `removing ${plural(d.cacheEvicted, 'build-cache record')} (${formatBytes(d.cacheEvictedBytes ?? 0)}) first, then `;
      const evicting = `${cache}evicting ${plural(d.evicted, 'image')}, est. ${formatBytes(d.evictedBytes)}`;
      const over = d.goals
        .filter((g) => g.over)
        .map(
          (g) =>
            `${measured(g, d.cacheEvicted !== undefined)} ${amount(g, g.before)} > ${amount(g, g.limit)}: ${evicting}, to reach ${amount(g, g.target)}`,
        );
      text = over.join('; ') + (d.targetReached ? '' : ' (target not reachable: nothing else may be evicted)');
      break;
    }
    case 'under-limit':
      text = `${d.goals.map((g) => `${measured(g, d.cacheEvicted !== undefined)} ${amount(g, g.before)} <= ${amount(g, g.limit)}`).join('; ')}: nothing to evict`;
      break;
  }
  return d.usageUnmeasured ? `${text}. ${usageUnmeasured(d)}` : text;
}
