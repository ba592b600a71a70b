import { expand } from 'brace-expansion';
import { minimatch } from 'minimatch';
import type { Glob, LabelMatcher, ReferenceGlob } from './types.js';

const GLOB_OPTIONS = { dot: true, nonegate: true, nocomment: true, noext: false } as const;

/** At most this many patterns from one glob's braces. */
export const MAX_ALTERNATIVES = 1_000;
/**
 * At most this many wildcards in one pattern: a regular expression with k of them can take n^k steps to fail on
 * a name of n characters (4 took a tenth of a second on a 128-character tag, 5 took seconds).
 */
export const MAX_WILDCARDS = 3;

// brace-expansion stops expanding where one of its bounds is reached, and says nothing. A glob whose braces give the
// same patterns within these bounds and within twice them was expanded in full; minimatch's bounds are higher
// still, so it expands the glob the same.
const BOUNDS = { max: MAX_ALTERNATIVES, maxLength: 256_000, maxDepth: 16, maxRewrites: 16, maxSteps: 2_000_000 };
const DOUBLED = Object.fromEntries(Object.entries(BOUNDS).map(([k, v]) => [k, v * 2]));

function fullExpansion(source: string): string[] | null {
  const once = expand(source, BOUNDS);
  const twice = expand(source, DOUBLED);
  return once.length === twice.length && once.every((p, i) => p === twice[i]) ? once : null;
}

/** Index of the "]" that closes the class opened at `i`, or -1 when "[" is a literal there (as minimatch reads it). */
function classEnd(s: string, i: number): number {
  let j = i + 1;
  if (s[j] === '!' || s[j] === '^') j++;
  if (s[j] === ']') j++;
  for (; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === ']') return j;
  }
  return -1;
}

/**
 * Why matching one brace-free pattern could take unbounded time, or null. Counted per path segment, since none of
 * them crosses a "/": each run of "*" and each "*(…)", "+(…)" and "!(…)" group ("**" as a whole segment only tries
 * the name's few "/", and is not counted). A repeated group ("*(…)", "+(…)") holding a choice, a wildcard or
 * another group can backtrack exponentially, whatever the count.
 */
function matchingCostProblem(pattern: string): string | null {
  let most = 0;
  let wildcards = 0;
  const count = () => (most = Math.max(most, ++wildcards));
  const groups: { repeated: boolean; risky: boolean }[] = [];
  const inRepeated = () => groups.forEach((g) => (g.risky ||= g.repeated));
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
    } else if (c === '/' && groups.length === 0) {
      wildcards = 0;
    } else if (c === '[' && classEnd(pattern, i) !== -1) {
      i = classEnd(pattern, i);
    } else if ('*+!?@'.includes(c) && pattern[i + 1] === '(') {
      if (c === '*' || c === '+' || c === '!') count();
      inRepeated();
      groups.push({ repeated: c === '*' || c === '+', risky: false });
      i++;
    } else if (c === ')' && groups.length > 0) {
      if (groups.pop()!.risky)
        return 'it repeats a group ("*(…)" or "+(…)") that holds a choice, a wildcard or another group';
    } else if (c === '|' && groups.length > 0) {
      const top = groups[groups.length - 1]!;
      top.risky ||= top.repeated;
    } else if (c === '*') {
      const start = i;
      while (pattern[i + 1] === '*') i++;
      const globstar =
        i > start && (start === 0 || pattern[start - 1] === '/') && [undefined, '/'].includes(pattern[i + 1]);
      if (!globstar) count();
      inRepeated();
    }
  }
  return most > MAX_WILDCARDS
    ? `it has ${most} wildcards ("*", "*(…)", "+(…)", "!(…)") in one path segment, and more than ${MAX_WILDCARDS} can make matching one name take seconds`
    : null;
}

/**
 * Compiles a minimatch glob for full matches, or says why not (a sentence's end, after the pattern): it cannot
 * compile or can never match, its braces expand beyond what can be matched in full, or matching it could take
 * unbounded time. A glob that protects must never protect less than it says, so nothing is cut short.
 */
export function compileGlob(source: string): Glob | string {
  const patterns = fullExpansion(source);
  if (patterns === null)
    return `is refused: its braces expand to more than ${MAX_ALTERNATIVES.toLocaleString('en-US')} patterns or nest too deep to be matched in full`;
  for (const pattern of patterns) {
    const problem = matchingCostProblem(pattern);
    if (problem !== null) return `is refused: ${problem}`;
  }
  let re: RegExp | false;
  try {
    re = minimatch.makeRe(source, GLOB_OPTIONS);
  } catch {
    return 'can never match: it is not a valid glob'; // minimatch refuses patterns over 64 KiB
  }
  // minimatch compiles an impossible class such as [z-a] to "$." (matches nothing).
  if (re === false || re.source.includes('$.')) return 'can never match: it is not a valid glob';
  if (!/[*?[\]{}()!+@]/.test(source)) return { source, test: (text) => text === source };
  return { source, test: (text) => re.test(text) };
}

/** A repository:tag glob, split at the last ":" so that `**` in the repository still crosses "/"; or why not. */
export function compileReferenceGlob(source: string): ReferenceGlob | string {
  const colon = source.lastIndexOf(':');
  const invalid = 'can never match: it is not a valid repository:tag glob';
  if (colon <= 0 || source.indexOf('/', colon) !== -1) return invalid;
  const repository = compileGlob(source.slice(0, colon));
  const tag = compileGlob(source.slice(colon + 1));
  // A refusal says why; an invalid part makes the whole reference invalid.
  const why = [repository, tag].find((part) => typeof part === 'string');
  if (why !== undefined) return why.startsWith('can never') ? invalid : why;
  if (typeof repository === 'string' || typeof tag === 'string') return invalid; // (narrowing only)
  const test = (text: string) => {
    const c = text.lastIndexOf(':');
    return c > text.lastIndexOf('/') && repository.test(text.slice(0, c)) && tag.test(text.slice(c + 1));
  };
  return { source, repository, tag, test };
}

export function compileLabel(source: string): LabelMatcher {
  const eq = source.indexOf('=');
  return eq === -1
    ? { source, key: source, value: null }
    : { source, key: source.slice(0, eq), value: source.slice(eq + 1) };
}

export function labelsMatch(matchers: readonly LabelMatcher[], labels: Record<string, string>): LabelMatcher | null {
  for (const m of matchers) {
    const v = labels[m.key];
    if (v !== undefined && (m.value === null || m.value === v)) return m;
  }
  return null;
}

/** "sha256:ABC..." or "abc..." -> "abc..." */
export function normalizeIdPrefix(text: string): string {
  return text.toLowerCase().replace(/^sha256:/, '');
}
