import { minimatch } from 'minimatch';
import type { Glob, LabelMatcher, ReferenceGlob } from './types.js';

const GLOB_OPTIONS = { dot: true, nonegate: true, nocomment: true, noext: false } as const;

/** Compiles a minimatch glob for full matches; null when minimatch cannot compile it or it can never match. */
export function compileGlob(source: string): Glob | null {
  let re: RegExp | false;
  try {
    re = minimatch.makeRe(source, GLOB_OPTIONS);
  } catch {
    return null; // minimatch refuses patterns over 64 KiB
  }
  // minimatch compiles an impossible class such as [z-a] to "$." (matches nothing).
  if (re === false || re.source.includes('$.')) return null;
  if (!/[*?[\]{}()!+@]/.test(source)) return { source, test: (text) => text === source };
  return { source, test: (text) => re.test(text) };
}

/** A repository:tag glob, split at the last ":" so that `**` in the repository still crosses "/". */
export function compileReferenceGlob(source: string): ReferenceGlob | null {
  const colon = source.lastIndexOf(':');
  if (colon <= 0 || source.indexOf('/', colon) !== -1) return null;
  const repository = compileGlob(source.slice(0, colon));
  const tag = compileGlob(source.slice(colon + 1));
  if (!repository || !tag) return null;
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
