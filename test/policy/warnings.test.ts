/** Warnings about valid policies: which rules can remove everything, and where the warning points. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.js';
import { formatProblem } from '../../src/policy/problems.js';
import { formatWarning, type PolicyWarning } from '../../src/policy/warnings.js';

function warnings(yaml: string, file = 'policy.yaml'): PolicyWarning[] {
  const r = parsePolicy(yaml, file);
  if (!r.ok) throw new Error(`expected a valid policy, got:\n${r.problems.map(formatProblem).join('\n')}`);
  return r.warnings;
}

/** A policy of one rule named "r" with this match (a flow mapping) and these other keys of the rule. */
const oneRule = (match: string, rule = '', rest = '') =>
  `version: 1\nrules:\n  - name: r\n    match: ${match}\n${rule ? `    ${rule}\n` : ''}${rest}`;

describe('a rule that selects every image in a policy without limits', () => {
  it.each([
    ['{ unused: true }', 'every image no container uses'],
    ['{ repositories: ["**"] }', 'every image'],
    ['{ repositories: ["*/**"] }', 'every image'],
    ['{ repositories: ["**/*"] }', 'every image'],
    ['{ repositories: ["*", "*/**"] }', 'every image'],
    ['{ repositories: ["nginx", "**"] }', 'every image'],
    ['{ tags: ["*"] }', 'every tagged image'],
    ['{ tags: ["**"] }', 'every tagged image'],
    ['{ references: ["**:*"] }', 'every tagged image'],
    ['{ untagged: false }', 'every tagged image'],
    ['{ repositories: ["**"], tags: ["*"], unused: true }', 'every tagged image no container uses'],
  ])('warns about match %s: it selects %s', (match, what) => {
    const [w, ...more] = warnings(oneRule(match));
    expect(more).toEqual([]);
    expect(w).toEqual({
      file: 'policy.yaml',
      line: 3,
      col: 5,
      path: 'rules[0]',
      code: 'removes-everything',
      message: expect.stringContaining(`rule "r" selects ${what} and the policy sets no limits`) as string,
    });
    expect(w!.message).toContain('limits.maxDeletionsPercent');
  });

  it('prints as one positioned line that suggests limits.maxDeletionsPercent', () => {
    const [w] = warnings(oneRule('{ unused: true }'), 'ci/policy.yaml');
    expect(formatWarning(w!)).toBe(
      'ci/policy.yaml:3:5 rules[0]: warning: rule "r" selects every image no container uses and the policy sets ' +
        'no limits, so one run can delete them all: give the rule olderThan, unusedFor or keep, or set ' +
        'limits.maxDeletionsPercent (e.g. 50)',
    );
    expect(formatWarning(w!)).not.toContain('\n');
  });

  it('still warns with protections, a disk budget or a zero age', () => {
    const protect = 'protect:\n  tags: ["latest"]\n  labels: ["keep"]\n  youngerThan: 1h\n';
    const disk = 'disk:\n  maxUsage: 85%\n';
    expect(warnings(oneRule('{ unused: true }', '', protect))).toHaveLength(1);
    expect(warnings(oneRule('{ unused: true }', '', disk))).toHaveLength(1);
    expect(warnings(oneRule('{ unused: true }', 'olderThan: 0s'))).toHaveLength(1);
    expect(warnings(oneRule('{ unused: true }', 'unusedFor: 0s'))).toHaveLength(1);
  });

  it('warns once per such rule, each at its rule, in file order', () => {
    const yaml = `version: 1
name: wipe
rules:
  - name: dangling
    match: { untagged: true }
  - name: all-unused
    match: { unused: true }
  - {name: all-tags, match: {tags: ["*"]}}
`;
    const ws = warnings(yaml);
    expect(ws.map(({ line, col, path }) => ({ line, col, path }))).toEqual([
      { line: 6, col: 5, path: 'rules[1]' },
      { line: 8, col: 5, path: 'rules[2]' },
    ]);
    expect(ws[0]!.message).toMatch(/^rule "all-unused" /);
    expect(ws[1]!.message).toMatch(/^rule "all-tags" /);
  });
});

describe('no warning', () => {
  it.each([
    ['{ untagged: true }', 'only dangling images'],
    ['{ unused: false }', 'only images in use, which are never deleted'],
    ['{ repositories: ["*"] }', 'one path segment: not ghcr.io/o/app'],
    ['{ repositories: ["docker.io/**"] }', 'one registry'],
    ['{ repositories: ["registry.acme.io/ci/**"] }', 'one registry'],
    ['{ tags: ["pr-*"] }', 'some tags'],
    ['{ tags: ["[a-z]*"] }', 'not tags in upper case or starting with a digit'],
    ['{ references: ["nginx:*"] }', 'one repository'],
    ['{ references: ["**:v*"] }', 'some tags'],
    ['{ repositories: ["**"], tags: ["pr-*"] }', 'some tags'],
    ['{ labels: ["ci"] }', 'a label'],
    ['{ unused: true, labels: ["ci"] }', 'a label'],
    ['{ images: ["sha256:0123456789ab"] }', 'an image'],
    ['{ unused: true, exclude: { tags: ["latest"] } }', 'an exclude'],
  ])('for match %s (%s)', (match) => {
    expect(warnings(oneRule(match))).toEqual([]);
  });

  it.each(['olderThan: 1s', 'unusedFor: 7d', 'keep: { newest: 1 }', 'action: untag'])(
    'for a catch-all rule with %s',
    (rule) => {
      expect(warnings(oneRule('{ unused: true }', rule))).toEqual([]);
    },
  );

  it.each(['limits:\n  maxDeletions: 1000\n', 'limits:\n  maxDeletionsPercent: 100\n'])(
    'for a catch-all rule in a policy with %j',
    (limits) => {
      expect(warnings(oneRule('{ repositories: ["**"] }', '', limits))).toEqual([]);
    },
  );

  it('for a policy without rules', () => {
    expect(warnings('version: 1\n')).toEqual([]);
  });

  const shipped = readdirSync('policies').filter((f) => f.endsWith('.yaml'));
  it.each(shipped)('for the shipped policies/%s', (file) => {
    expect(shipped.length).toBeGreaterThanOrEqual(3);
    expect(warnings(readFileSync(`policies/${file}`, 'utf8'), `policies/${file}`)).toEqual([]);
  });
});
