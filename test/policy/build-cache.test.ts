import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.js';

const load = (yaml: string) => parsePolicy(yaml, 'p.yaml');

describe('the buildCache section', () => {
  it('reads every key, durations and sizes as written and in units', () => {
    const r = load(
      'version: 1\nbuildCache:\n  unusedFor: 72h\n  keepBytes: 20GiB\n  types: [regular, exec.cachemount]\n  keepShared: false\n',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.rules).toEqual([]);
    expect(r.policy.buildCache).toEqual({
      unusedForMs: 72 * 3_600_000,
      unusedFor: '72h',
      keepBytes: 20 * 2 ** 30,
      types: ['regular', 'exec.cachemount'],
      keepShared: false,
    });
  });

  it('defaults: every type but internal, shared records kept; no section leaves the cache alone', () => {
    const r = load('version: 1\nbuildCache: { keepBytes: 1GB }\n');
    expect(r.ok && r.policy.buildCache).toEqual({
      unusedForMs: null,
      unusedFor: null,
      keepBytes: 1e9,
      types: ['regular', 'exec.cachemount', 'source.local', 'source.git.checkout', 'frontend'],
      keepShared: true,
    });
    const none = load('version: 1\n');
    expect(none.ok && none.policy.buildCache).toBeNull();
  });

  it.each([
    ['version: 1\nbuildCache: { types: [regular] }\n', 'buildCache', 2, 'set unusedFor'],
    ['version: 1\nbuildCache: {}\n', 'buildCache', 2, ''],
    ['version: 1\nbuildCache:\n  unusedFor: 3 days\n', 'buildCache.unusedFor', 3, 'not a duration'],
    ['version: 1\nbuildCache:\n  keepBytes: 20\n', 'buildCache.keepBytes', 3, ''],
    ['version: 1\nbuildCache:\n  unusedFor: 1h\n  types: [layers]\n', 'buildCache.types[0]', 4, ''],
    ['version: 1\nbuildCache:\n  unusedFor: 1h\n  keepshared: true\n', 'buildCache.keepshared', 4, 'keepShared'],
  ])('refuses %j with a positioned problem', (yaml, path, line, message) => {
    const r = load(yaml);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const p = r.problems.find((x) => x.path === path);
    expect(p, JSON.stringify(r.problems)).toBeDefined();
    expect(p!.line).toBe(line);
    expect(p!.message).toContain(message);
  });
});
