import { describe, expect, it } from 'vitest';
import { compileGlob, compileReferenceGlob, MAX_ALTERNATIVES } from '../../src/policy/patterns.js';
import type { Glob } from '../../src/policy/types.js';

const glob = (source: string): Glob => {
  const g = compileGlob(source);
  if (typeof g === 'string') throw new Error(`${source} ${g}`);
  return g;
};

describe('globs are matched in full or refused', () => {
  it('braces within the limit match every alternative, the last one included', () => {
    const g = glob('{v,release-}{1..9}.{0..9}.{0..4}'); // 2 x 9 x 10 x 5 = 900 patterns
    expect(g.test('release-9.9.4')).toBe(true);
    expect(g.test('v1.0.0')).toBe(true);
    expect(g.test('release-9.9.5')).toBe(false);
  });

  it(`accepts ${MAX_ALTERNATIVES} alternatives and refuses one more, saying why`, () => {
    expect(glob(`x{1..${MAX_ALTERNATIVES}}`).test(`x${MAX_ALTERNATIVES}`)).toBe(true);
    expect(compileGlob(`x{1..${MAX_ALTERNATIVES + 1}}`)).toMatch(/^is refused: its braces expand to more than 1,000/);
    // Past minimatch's own silent cut at 100,000: refused, not matched partly.
    expect(compileGlob('{v,release-}{1..9}.{0..99}.{0..99}')).toMatch(/^is refused: its braces expand/);
  });

  it('refuses braces nested deeper than can be expanded in full', () => {
    expect(compileGlob(`${'{a,'.repeat(40)}b${'}'.repeat(40)}`)).toMatch(/^is refused: its braces/);
  });

  it('counts wildcards per path segment: "*" cannot cross "/", and "**" only tries the name\'s "/"', () => {
    expect(glob('*a/a*/*a/*').test('xa/ay/za/w')).toBe(true);
    expect(glob('**/*-*-*').test('a/b/x-y-z')).toBe(true);
    expect(compileGlob('*-*-*-*')).toMatch(/it has 4 wildcards .* in one path segment/);
    expect(compileGlob('ok/*-*-*-*-*-*-*-*-rc')).toMatch(/it has 8 wildcards/);
    // Stars that are literal (escaped, or in a class) are not wildcards.
    expect(glob('\\*-[*]-*-*-*').test('*-*-a-b-c')).toBe(true);
  });

  it('refuses a repeated group that holds a choice, a wildcard or another group; allows the others', () => {
    for (const p of ['+(a|aa)b', '*(a*)', '*(@(a|b))', 'x-+(?(a)b)'])
      expect(compileGlob(p), p).toMatch(/^is refused: it repeats a group/);
    expect(glob('*(ab)').test('ababab')).toBe(true);
    expect(glob('@(a|aa)-*').test('aa-1')).toBe(true);
    expect(glob('?(a|b)x').test('bx')).toBe(true);
  });

  it("reference globs give the part's reason, or say the reference is not valid", () => {
    expect(compileReferenceGlob('app:*-*-*-*')).toMatch(/it has 4 wildcards/);
    expect(compileReferenceGlob('app:[z-a]')).toBe('can never match: it is not a valid repository:tag glob');
    expect(compileReferenceGlob('app')).toBe('can never match: it is not a valid repository:tag glob');
  });
});
