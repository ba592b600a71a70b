import type { CacheRunSummary, CacheStepReason, CacheStepResult } from '../execute/build-cache.js';
import type { ApplyReport } from '../execute/types.js';
import type { BuildCacheKeptReason, BuildCachePlan } from '../plan/types.js';
import { formatBytes } from './bytes.js';
import { plural } from './table.js';

export const CACHE_KEPT_TEXT: Record<BuildCacheKeptReason, string> = {
  'in-use': 'in use by a build',
  shared: 'shared with an image (keepShared)',
  'type-not-selected': 'of a type buildCache.types leaves out',
  'recently-used': 'used within buildCache.unusedFor',
  'within-keep-bytes': 'within buildCache.keepBytes',
  'parent-of-kept': 'under a kept record',
};

const REMOVAL_TEXT = { 'unused-for': 'unusedFor', 'keep-bytes': 'keepBytes', disk: 'disk budget' } as const;

/** "remove 3 build-cache records (12 MB)", for the plan's summary line. */
export function cacheSummary(c: BuildCachePlan): string {
  return c.status === 'evaluated'
    ? `remove ${plural(c.remove.length, 'build-cache record')} (${formatBytes(c.bytes)})`
    : 'build cache untouched';
}

/** The one line that says what happens to the build cache as a whole. */
export function cacheHeadline(c: BuildCachePlan): string {
  if (c.status === 'not-applicable')
    return `Build cache: not applicable: ${c.cause ?? 'no BuildKit cache'}; nothing changes.`;
  if (c.status === 'unavailable')
    return `Build cache: cannot be read (${c.cause ?? 'unknown'}); nothing of it is removed.`;
  return `Build cache: ${plural(c.records, 'record')}, ${formatBytes(c.totalBytes)}; remove ${plural(c.remove.length, 'record')} (${formatBytes(c.bytes)}).`;
}

/** Rows of the records removed: ID, type, size, last used, which condition took it, description. */
export function cacheRows(c: BuildCachePlan): string[][] {
  return c.remove.map((r) => [
    r.id.slice(0, 12),
    r.type,
    formatBytes(r.size),
    r.lastUsedAt.slice(0, 16).replace('T', ' '),
    REMOVAL_TEXT[r.reason],
    r.description,
  ]);
}

export const CACHE_HEAD = ['RECORD', 'TYPE', 'SIZE', 'LAST USED', 'BY', 'DESCRIPTION'];

/** "Build cache kept: 2 in use by a build; 5 shared with an image (keepShared)". */
export function cacheKeptLine(c: BuildCachePlan): string | null {
  const counts = new Map<BuildCacheKeptReason, number>();
  for (const k of c.kept) counts.set(k.reason, (counts.get(k.reason) ?? 0) + 1);
  if (counts.size === 0) return null;
  return `Build cache kept: ${[...counts].map(([reason, n]) => `${n} ${CACHE_KEPT_TEXT[reason]}`).join('; ')}`;
}

function cacheReasonText(r: CacheStepReason): string {
  switch (r.code) {
    case 'gone':
      return 'already gone';
    case 'in-use':
      return 'a build is using it now';
    case 'now-shared':
      return 'an image shares it now (keepShared)';
    case 'used-since-plan':
      return `used since the plan was made (at ${r.lastUsedAt})`;
    case 'has-children':
      return `records are still built on it (${r.children.map((c) => c.slice(0, 12)).join(', ')})`;
    case 'not-removed':
      return 'the engine removed nothing (it may have come into use)';
    case 'removed-more':
      return `the engine removed other records with it (${r.others.map((c) => c.slice(0, 12)).join(', ')}); no further record is removed`;
    case 'check-failed':
      return `the cache could not be read again (${r.message})`;
    case 'engine-error':
      return r.message;
    case 'not-started':
      return r.cause.by === 'signal'
        ? `not started: the run stopped on ${r.cause.signal}`
        : `not started: the run stopped (the audit log could not be written: ${r.cause.message})`;
  }
}

/** One line per build-cache removal, like apply's step lines. */
export function formatCacheStepLine(s: CacheStepResult): string {
  const r = s.record;
  const why = s.reason ? `: ${cacheReasonText(s.reason)}` : '';
  return `${s.status.padEnd(7)} remove build cache ${r.id.slice(0, 12)} ${r.type} ${formatBytes(r.size)} [buildCache]${why}`;
}

/** One JSON object per build-cache removal, for --json-lines, --json and the audit log. */
export function cacheStepRecord(
  s: CacheStepResult,
  report: Pick<ApplyReport, 'engine' | 'policy'>,
): Record<string, unknown> {
  return {
    time: s.at,
    engine: report.engine.key,
    engineName: report.engine.name,
    policy: report.policy.name,
    type: 'remove-build-cache',
    record: s.record.id,
    recordType: s.record.type,
    description: s.record.description,
    bytes: s.record.size,
    by: s.record.reason,
    outcome: s.status,
    reason: s.reason,
    message: s.reason ? cacheReasonText(s.reason) : '',
    ms: Math.round(s.ms),
  };
}

/** "build cache: removed 3 records (est. 12 MB, actual 12 MB), 1 skipped, 0 failed". */
export function cacheRunText(s: CacheRunSummary): string {
  const others = s.othersGone > 0 ? `; ${plural(s.othersGone, 'other record')} went meanwhile, not by imgsweep` : '';
  return `build cache: removed ${plural(s.removed, 'record')} (est. ${formatBytes(s.bytesEstimated)}, actual ${formatBytes(s.bytesReclaimed)}), ${s.skipped} skipped, ${s.failed} failed${others}`;
}
