import { formatPath } from '../format-path.js';
import { parseReference, type Reference } from '../inventory/reference.js';
import type { Glob, Policy, ReferenceGlob, Rule, Selector } from './types.js';
import type { YamlSource } from './yaml-source.js';

/** Something a valid policy allows but probably does not mean; positioned like a PolicyProblem. */
export type WarningCode = 'removes-everything';

export interface PolicyWarning {
  file: string;
  line: number;
  col: number;
  /** Key path like rules[1]. */
  path: string;
  code: WarningCode;
  message: string;
}

export function formatWarning(w: PolicyWarning): string {
  return `${w.file}:${w.line}:${w.col} ${w.path}: warning: ${w.message}`;
}

/**
 * References of every shape a host lists: bare and namespaced Docker Hub names, registries with ports and deep
 * paths, Podman's localhost/ and docker.io/library/ forms, tags in upper case, starting with a digit or "_", and
 * of the longest length allowed. A glob that matches all of them is taken to match any reference.
 */
const PROBES: readonly Reference[] = [
  'nginx:latest',
  'a:1',
  'user/app:V1.0_rc-2',
  'index.docker.io/someone/tool:9',
  'ghcr.io/org/team/app:sha-0123abc',
  '127.0.0.1:5000/a/b/c/d/e/f:_x',
  'localhost/app:pr-42',
  'docker.io/library/busybox:1.36.1',
  `registry.example.com/x_y.z-w/deep__name/v-1:${'T'.repeat(128)}`,
].map(parseReference);

const anyGlob = (globs: readonly Glob[], text: string) => globs.some((g) => g.test(text));

/** Whether a list of repository, tag or reference globs (items ORed) lets every reference through. */
function catchAll(s: Selector): boolean {
  const repositories = s.repositories;
  const tags = s.tags;
  const references = s.references;
  return PROBES.every(
    (ref) =>
      (repositories === null || ref.names.some((n) => anyGlob(repositories, n))) &&
      (tags === null || anyGlob(tags, ref.tag!)) &&
      (references === null ||
        references.some((r: ReferenceGlob) => r.tag.test(ref.tag!) && ref.names.some((n) => r.repository.test(n)))),
  );
}

/**
 * Whether a deleting rule takes every image that can be deleted at all: its match narrows nothing but with
 * catch-all globs, `untagged: false` or `unused: true` (an image in use is never deleted anyway), it excludes
 * nothing, and it waits for no age or use and keeps none. Protections do not count: they name a few images.
 */
function selectsEverything(rule: Rule): boolean {
  const m = rule.match;
  return (
    rule.action === 'delete' &&
    rule.exclude === null &&
    !rule.olderThanMs &&
    !rule.unusedForMs &&
    rule.keep === null &&
    m.labels === null &&
    m.images === null &&
    m.untagged !== true &&
    m.unused !== false &&
    catchAll(m)
  );
}

/** What the rule's catch-all match still leaves out, in words: "every tagged image no container uses". */
function everything(m: Selector): string {
  const tagged = m.untagged === false || m.tags !== null || m.references !== null;
  return `every ${tagged ? 'tagged ' : ''}image${m.unused === true ? ' no container uses' : ''}`;
}

/** Warnings about a valid policy, positioned in its source; they never change what the policy plans. */
export function policyWarnings(policy: Policy, source: Pick<YamlSource, 'locate'>): PolicyWarning[] {
  const { maxDeletions, maxDeletionsPercent } = policy.limits;
  if (maxDeletions !== null || maxDeletionsPercent !== null) return [];
  return policy.rules.filter(selectsEverything).map((rule) => {
    const path = ['rules', rule.index];
    const { line, col } = source.locate(path);
    return {
      file: policy.file,
      line,
      col,
      path: formatPath(path),
      code: 'removes-everything',
      message:
        `rule "${rule.name}" selects ${everything(rule.match)} and the policy sets no limits, so one run can ` +
        'delete them all: give the rule olderThan, unusedFor or keep, or set limits.maxDeletionsPercent (e.g. 50)',
    };
  });
}
