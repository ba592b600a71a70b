import { formatPath } from '../format-path.js';
import type { PolicyProblem, ProblemCode } from './problems.js';
import { compileGlob, compileLabel, compileReferenceGlob, normalizeIdPrefix } from './patterns.js';
import {
  BUILD_CACHE_TYPES,
  type BuildCachePolicy,
  type BuildCacheType,
  type DiskPolicy,
  type Glob,
  type Policy,
  type ReferenceGlob,
  type Rule,
  type Selector,
} from './types.js';
import { DURATION_EXAMPLES, parseDuration, parsePercent, parseSize } from './units.js';
import type { PathSegment, YamlSource } from './yaml-source.js';

/* Shapes guaranteed by the schema. */
interface RawSelector {
  repositories?: string[];
  tags?: string[];
  references?: string[];
  labels?: string[];
  images?: string[];
  untagged?: boolean;
  unused?: boolean;
  restorable?: boolean;
  exclude?: RawSelector;
}
interface RawRule {
  name: string;
  match: RawSelector;
  olderThan?: string;
  unusedFor?: string;
  keep?: { newest: number; per?: 'repository'; by?: 'created' | 'lastUsed' };
  action?: 'delete' | 'untag';
}
interface RawPolicy {
  version: 1;
  name?: string;
  protect?: Omit<RawSelector, 'untagged' | 'unused' | 'restorable' | 'exclude'> & {
    youngerThan?: string;
    unrestorable?: boolean;
  };
  containers?: { stopped?: 'protect' | 'remove'; stoppedFor?: string };
  rules?: RawRule[];
  buildCache?: { unusedFor?: string; keepBytes?: string; types?: BuildCacheType[]; keepShared?: boolean };
  disk?: { maxUsage?: string; targetUsage?: string; maxImageBytes?: string; targetImageBytes?: string; order?: 'lru' };
  limits?: { maxDeletions?: number; maxDeletionsPercent?: number };
}

const POSITIVE_KEYS = [
  'repositories',
  'tags',
  'references',
  'labels',
  'images',
  'untagged',
  'unused',
  'restorable',
] as const;

/** Semantic checks and conversion of a schema-valid document into a typed Policy. */
export function compilePolicy(
  source: YamlSource,
  file: string,
  sha256: string,
): { policy: Policy } | { problems: PolicyProblem[] } {
  const raw = source.value as RawPolicy;
  const problems: PolicyProblem[] = [];
  const report = (path: PathSegment[], code: ProblemCode, message: string, at: 'key' | 'value' = 'value') => {
    const { line, col } = source.locate(path, at);
    problems.push({ file, line, col, path: formatPath(path), code, message });
  };

  const globs = (list: string[] | undefined, path: PathSegment[]): Glob[] | null => {
    if (!list) return null;
    const out: Glob[] = [];
    list.forEach((pattern, i) => {
      const glob = compileGlob(pattern);
      if (typeof glob === 'string') report([...path, i], 'pattern', `${JSON.stringify(pattern)} ${glob}`);
      else out.push(glob);
    });
    return out;
  };
  const referenceGlobs = (list: string[] | undefined, path: PathSegment[]): ReferenceGlob[] | null => {
    if (!list) return null;
    const out: ReferenceGlob[] = [];
    list.forEach((pattern, i) => {
      const glob = compileReferenceGlob(pattern);
      if (/[A-Z]/.test(pattern.slice(0, pattern.lastIndexOf(':'))))
        report([...path, i], 'format', `${JSON.stringify(pattern)} can never match: repositories are lower case`);
      else if (typeof glob === 'string') report([...path, i], 'pattern', `${JSON.stringify(pattern)} ${glob}`);
      else out.push(glob);
    });
    return out;
  };
  const duration = (text: string | undefined, path: PathSegment[]): number | null => {
    if (text === undefined) return null;
    const ms = parseDuration(text);
    if (ms === null)
      report(path, 'format', `${JSON.stringify(text)} is too long a duration (examples: ${DURATION_EXAMPLES})`);
    return ms;
  };
  const selector = (s: RawSelector, path: PathSegment[]): Selector => {
    const sel: Selector = {
      repositories: globs(s.repositories, [...path, 'repositories']),
      tags: globs(s.tags, [...path, 'tags']),
      references: referenceGlobs(s.references, [...path, 'references']),
      labels: s.labels ? s.labels.map(compileLabel) : null,
      images: s.images ? s.images.map(normalizeIdPrefix) : null,
      untagged: s.untagged ?? null,
      unused: s.unused ?? null,
      restorable: s.restorable ?? null,
    };
    if (!POSITIVE_KEYS.some((k) => s[k] !== undefined)) {
      report(
        path,
        'empty-value',
        'names nothing to match: besides exclude, name repositories, tags, references, labels, images, untagged, unused or restorable',
        'key',
      );
    } else if (s.untagged === true && (s.tags || s.references)) {
      report(
        [...path, 'untagged'],
        'semantic',
        'can never match: untagged images have no tags, yet tags/references are required too',
        'key',
      );
    }
    return sel;
  };

  const p = raw.protect ?? {};
  const protect: Policy['protect'] = {
    repositories: globs(p.repositories, ['protect', 'repositories']) ?? [],
    tags: globs(p.tags, ['protect', 'tags']) ?? [],
    references: referenceGlobs(p.references, ['protect', 'references']) ?? [],
    labels: (p.labels ?? []).map(compileLabel),
    images: (p.images ?? []).map(normalizeIdPrefix),
    youngerThanMs: duration(p.youngerThan, ['protect', 'youngerThan']),
    youngerThan: p.youngerThan ?? null,
    unrestorable: p.unrestorable ?? false,
  };

  const containers: Policy['containers'] = {
    stopped: raw.containers?.stopped ?? 'protect',
    stoppedForMs: duration(raw.containers?.stoppedFor, ['containers', 'stoppedFor']) ?? 3_600_000,
    stoppedFor: raw.containers?.stoppedFor ?? '1h',
  };

  const seen = new Map<string, number>();
  const rules: Rule[] = (raw.rules ?? []).map((r, index) => {
    const path: PathSegment[] = ['rules', index];
    const first = seen.get(r.name);
    if (first !== undefined)
      report(
        [...path, 'name'],
        'duplicate-name',
        `rule name "${r.name}" is already used by rules[${first}]; names must be unique`,
      );
    else seen.set(r.name, index);
    return {
      name: r.name,
      index,
      match: selector(r.match, [...path, 'match']),
      exclude: r.match.exclude ? selector(r.match.exclude, [...path, 'match', 'exclude']) : null,
      olderThanMs: duration(r.olderThan, [...path, 'olderThan']),
      unusedForMs: duration(r.unusedFor, [...path, 'unusedFor']),
      olderThan: r.olderThan ?? null,
      unusedFor: r.unusedFor ?? null,
      keep: r.keep ? { newest: r.keep.newest, per: r.keep.per ?? 'repository', by: r.keep.by ?? 'created' } : null,
      action: r.action ?? 'delete',
    };
  });

  const buildCache = raw.buildCache ? compileBuildCache(raw.buildCache, report) : null;
  const disk = raw.disk ? compileDisk(raw.disk, report) : null;
  const limits = {
    maxDeletions: raw.limits?.maxDeletions ?? null,
    maxDeletionsPercent: raw.limits?.maxDeletionsPercent ?? null,
  };

  if (problems.length > 0) return { problems };
  return {
    policy: { version: 1, name: raw.name ?? null, file, sha256, protect, containers, rules, buildCache, disk, limits },
  };
}

function compileBuildCache(
  b: NonNullable<RawPolicy['buildCache']>,
  report: (path: PathSegment[], code: ProblemCode, message: string, at?: 'key' | 'value') => void,
): BuildCachePolicy {
  const unusedForMs = b.unusedFor === undefined ? null : parseDuration(b.unusedFor);
  if (b.unusedFor !== undefined && unusedForMs === null)
    report(['buildCache', 'unusedFor'], 'format', `${JSON.stringify(b.unusedFor)} is not a duration`);
  const keepBytes = b.keepBytes === undefined ? null : parseSize(b.keepBytes);
  if (b.keepBytes !== undefined && keepBytes === null)
    report(
      ['buildCache', 'keepBytes'],
      'format',
      `${JSON.stringify(b.keepBytes)} is not a size (examples: 500MB, 2GiB; at most 8 PiB)`,
    );
  if (b.unusedFor === undefined && b.keepBytes === undefined)
    report(
      ['buildCache'],
      'required',
      'set unusedFor (how long a record may go unused) or keepBytes (how much cache to keep), or remove the buildCache section',
      'key',
    );
  return {
    unusedForMs,
    unusedFor: b.unusedFor ?? null,
    keepBytes,
    types: b.types ?? BUILD_CACHE_TYPES.filter((t) => t !== 'internal'),
    keepShared: b.keepShared ?? true,
  };
}

function compileDisk(
  d: NonNullable<RawPolicy['disk']>,
  report: (path: PathSegment[], code: ProblemCode, message: string, at?: 'key' | 'value') => void,
): DiskPolicy {
  const percent = (text: string | undefined, key: string): number | null => {
    if (text === undefined) return null;
    const v = parsePercent(text);
    if (v === null) report(['disk', key], 'format', `${JSON.stringify(text)} is not a percentage between 0% and 100%`);
    return v;
  };
  const size = (text: string | undefined, key: string): number | null => {
    if (text === undefined) return null;
    const v = parseSize(text);
    if (v === null)
      report(['disk', key], 'format', `${JSON.stringify(text)} is not a size (examples: 500MB, 2GiB; at most 8 PiB)`);
    return v;
  };
  const disk: DiskPolicy = {
    maxUsage: percent(d.maxUsage, 'maxUsage'),
    targetUsage: percent(d.targetUsage, 'targetUsage'),
    maxImageBytes: size(d.maxImageBytes, 'maxImageBytes'),
    targetImageBytes: size(d.targetImageBytes, 'targetImageBytes'),
    order: d.order ?? 'lru',
  };
  if (d.maxUsage === undefined && d.maxImageBytes === undefined) {
    report(
      ['disk'],
      'required',
      'set maxUsage (a percentage of the filesystem) or maxImageBytes (a size), or remove the disk section',
      'key',
    );
  }
  if (disk.maxUsage !== null && disk.targetUsage !== null && disk.targetUsage >= disk.maxUsage) {
    report(
      ['disk', 'targetUsage'],
      'semantic',
      `targetUsage (${d.targetUsage}) must be below maxUsage (${d.maxUsage})`,
    );
  }
  if (disk.maxImageBytes !== null && disk.targetImageBytes !== null && disk.targetImageBytes > disk.maxImageBytes) {
    report(
      ['disk', 'targetImageBytes'],
      'semantic',
      `targetImageBytes (${d.targetImageBytes}) must not exceed maxImageBytes (${d.maxImageBytes})`,
    );
  }
  return disk;
}
