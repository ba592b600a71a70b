import { minimatch } from 'minimatch';
import type { Glob, LabelMatcher } from './types.js';

const GLOB_OPTIONS = { dot: true, nonegate: true, nocomment: true, noext: false } as const;

/** Compiles a minimatch glob for full matches; null when minimatch cannot compile it. */
export function compileGlob(source: string): Glob | null {
  const re = minimatch.makeRe(source, GLOB_OPTIONS);
  if (re === false) return null;
  if (!/[*?[\]{}()!+@]/.test(source)) return { source, test: (text) => text === source };
  return { source, test: (text) => re.test(text) };
}

export function compileLabel(source: string): LabelMatcher {
  const eq = source.indexOf('=');
  return eq === -1 ? { source, key: source, value: null } : { source, key: source.slice(0, eq), value: source.slice(eq + 1) };
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
