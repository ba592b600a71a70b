/** Valid policies and the typed Policy they load into (the policy language). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.js';
import { formatProblem } from '../../src/policy/problems.js';
import type { Glob, Policy, Selector } from '../../src/policy/types.js';

function load(text: string | Uint8Array, file = 'policy.yaml'): Policy {
  const r = parsePolicy(text, file);
  if (!r.ok) throw new Error(`expected a valid policy, got:\n${r.problems.map(formatProblem).join('\n')}`);
  return r.policy;
}

const sources = (globs: Glob[] | null) => (globs === null ? null : globs.map((g) => g.source));
const matches = (globs: Glob[] | null | undefined, text: string) => (globs ?? []).some((g) => g.test(text));

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const GiB = 2 ** 30;

/** The full example policy of the policy language, verbatim (including the "…" placeholder in protect.images). */
const FULL_EXAMPLE = `# yaml-language-server: $schema=../schemas/policy.schema.json
version: 1
name: ci-runner                      # optional, shown in reports

protect:                             # immune to every rule; protection always wins
  repositories: ["registry.acme.io/base/**"]
  tags: ["latest", "stable", "v*.*.*"]
  references: ["nginx:1.*"]          # repository:tag globs
  labels: ["com.acme.keep", "tier=prod"]   # key (present) or key=value
  images: ["sha256:3e207b409db3…"]   # full or >=12-hex ID prefixes
  youngerThan: 1h                    # minimum age floor (by creation time and by first-seen time);
                                     # no floor unless set: the example policies set one

containers:
  stopped: protect                   # protect (default): an image used by a stopped container stays
                                     # remove: stopped containers (not running/paused/restarting) that use a
                                     #         selected image are removed first, if stopped longer than:
  stoppedFor: 24h                    # default 1h; a container that never ran counts from its creation time

rules:
  - name: dangling
    match: { untagged: true }
    olderThan: 1h
  - name: pr-builds
    match:
      repositories: ["registry.acme.io/ci/**"]
      tags: ["pr-*", "sha-*"]
      exclude: { tags: ["*-pinned"] }
    unusedFor: 6h                    # last-used age (see §3)
    keep: { newest: 2, per: repository, by: created }
  - name: all-unused-after-two-weeks
    match: { unused: true }
    olderThan: 14d

disk:                                # optional: evict further only while over a limit
  maxUsage: 85%                      # of the filesystem holding the engine's data root (local engines)
  targetUsage: 70%
  maxImageBytes: 40GiB               # or a budget on total image bytes (works for remote engines too);
  targetImageBytes: 30GiB            # evict down to this (default: maxImageBytes itself)
  order: lru                         # least recently used first; ties: oldest created, then children first

limits:
  maxDeletions: 500                  # refuse the whole apply (exit 3) if the plan would delete more
  maxDeletionsPercent: 60
`;

const EMPTY_SELECTOR: Selector = {
  repositories: null,
  tags: null,
  references: null,
  labels: null,
  images: null,
  untagged: null,
  unused: null,
  restorable: null,
};

describe('the full example policy', () => {
  it('verbatim: only the "…" placeholder image ID is refused', () => {
    const r = parsePolicy(FULL_EXAMPLE, 'spec.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => [p.path, p.line, p.code])).toEqual([['protect.images[0]', 10, 'format']]);
  });

  it('with the placeholder completed, loads into the typed policy', () => {
    const text = FULL_EXAMPLE.replace('sha256:3e207b409db3…', 'sha256:3e207b409db3');
    const p = load(text, 'spec.yaml');
    expect(p.version).toBe(1);
    expect(p.name).toBe('ci-runner');
    expect(p.file).toBe('spec.yaml');
    expect(p.sha256).toBe(createHash('sha256').update(text).digest('hex'));

    expect(sources(p.protect.repositories)).toEqual(['registry.acme.io/base/**']);
    expect(sources(p.protect.tags)).toEqual(['latest', 'stable', 'v*.*.*']);
    expect(sources(p.protect.references)).toEqual(['nginx:1.*']);
    expect(p.protect.labels).toEqual([
      { source: 'com.acme.keep', key: 'com.acme.keep', value: null },
      { source: 'tier=prod', key: 'tier', value: 'prod' },
    ]);
    expect(p.protect.images).toEqual(['3e207b409db3']);
    expect(p.protect.youngerThanMs).toBe(HOUR);
    expect(matches(p.protect.repositories, 'registry.acme.io/base/debian/slim')).toBe(true);
    expect(matches(p.protect.tags, 'v1.2.3')).toBe(true);
    expect(matches(p.protect.tags, 'v1.2')).toBe(false);
    expect(matches(p.protect.references, 'nginx:1.25.3')).toBe(true);
    expect(matches(p.protect.references, 'nginx:2.0')).toBe(false);

    expect(p.containers).toEqual({ stopped: 'protect', stoppedForMs: DAY, stoppedFor: '24h' });

    expect(p.rules.map((r) => [r.index, r.name, r.action])).toEqual([
      [0, 'dangling', 'delete'],
      [1, 'pr-builds', 'delete'],
      [2, 'all-unused-after-two-weeks', 'delete'],
    ]);
    const [dangling, pr, unused] = p.rules;
    expect(dangling!.match).toEqual({ ...EMPTY_SELECTOR, untagged: true });
    expect(dangling!.exclude).toBeNull();
    expect(dangling!.olderThanMs).toBe(HOUR);
    expect(dangling!.unusedForMs).toBeNull();
    expect(dangling!.keep).toBeNull();

    expect(sources(pr!.match.repositories)).toEqual(['registry.acme.io/ci/**']);
    expect(sources(pr!.match.tags)).toEqual(['pr-*', 'sha-*']);
    expect(sources(pr!.exclude!.tags)).toEqual(['*-pinned']);
    expect(pr!.exclude!.repositories).toBeNull();
    expect(pr!.olderThanMs).toBeNull();
    expect(pr!.unusedForMs).toBe(6 * HOUR);
    expect(pr!.keep).toEqual({ newest: 2, per: 'repository', by: 'created' });
    expect(matches(pr!.match.repositories, 'registry.acme.io/ci/a/b')).toBe(true);
    expect(matches(pr!.match.tags, 'sha-0123abc')).toBe(true);
    expect(matches(pr!.exclude!.tags, 'pr-12-pinned')).toBe(true);

    expect(unused!.match).toEqual({ ...EMPTY_SELECTOR, unused: true });
    expect(unused!.olderThanMs).toBe(14 * DAY);

    expect(p.disk).toEqual({
      maxUsage: 0.85,
      targetUsage: 0.7,
      maxImageBytes: 40 * GiB,
      targetImageBytes: 30 * GiB,
      order: 'lru',
    });
    expect(p.limits).toEqual({ maxDeletions: 500, maxDeletionsPercent: 60 });
  });
});

describe('defaults', () => {
  it('a policy of just `version: 1`', () => {
    const p = load('version: 1\n');
    expect(p.name).toBeNull();
    expect(p.protect).toEqual({
      repositories: [],
      tags: [],
      references: [],
      labels: [],
      images: [],
      youngerThanMs: null,
      youngerThan: null,
      unrestorable: false,
    });
    expect(p.containers).toEqual({ stopped: 'protect', stoppedForMs: HOUR, stoppedFor: '1h' });
    expect(p.rules).toEqual([]);
    expect(p.disk).toBeNull();
    expect(p.limits).toEqual({ maxDeletions: null, maxDeletionsPercent: null });
  });

  it('containers.stopped: remove keeps stoppedFor at 1h', () => {
    expect(load('version: 1\ncontainers: { stopped: remove }\n').containers).toEqual({
      stopped: 'remove',
      stoppedForMs: HOUR,
      stoppedFor: '1h',
    });
  });

  it('a rule: action delete, no keep, no conditions, no exclude', () => {
    const [r] = load('version: 1\nrules:\n  - name: x\n    match: { tags: ["pr-*"] }\n').rules;
    expect(r).toMatchObject({
      name: 'x',
      index: 0,
      action: 'delete',
      keep: null,
      olderThanMs: null,
      unusedForMs: null,
      exclude: null,
    });
  });

  it('keep: per repository, by created', () => {
    const [r] = load('version: 1\nrules:\n  - name: x\n    match: { tags: ["pr-*"] }\n    keep: { newest: 3 }\n').rules;
    expect(r!.keep).toEqual({ newest: 3, per: 'repository', by: 'created' });
  });

  it('disk: order lru; targets unset', () => {
    const p = load('version: 1\ndisk: { maxUsage: 90% }\n');
    expect(p.disk).toEqual({
      maxUsage: 0.9,
      targetUsage: null,
      maxImageBytes: null,
      targetImageBytes: null,
      order: 'lru',
    });
    const q = load('version: 1\ndisk: { maxImageBytes: 40GiB }\n');
    expect(q.disk!.maxImageBytes).toBe(40 * GiB);
    // targetImageBytes defaults to maxImageBytes itself; the loader may resolve that or leave it to the planner.
    expect([null, 40 * GiB]).toContain(q.disk!.targetImageBytes);
  });
});

describe('units', () => {
  const rule = (cond: string) => `version: 1\nrules:\n  - name: x\n    match: { unused: true }\n    ${cond}\n`;

  it.each([
    ['90m', 90 * MIN],
    ['1d12h', 36 * HOUR],
    ['2w', 14 * DAY],
    ['36h', 36 * HOUR],
    ['30s', 30_000],
    ['1w2d3h4m5s', 7 * DAY + 2 * DAY + 3 * HOUR + 4 * MIN + 5_000],
    ['0s', 0],
    ['1h1h', 2 * HOUR],
  ])('duration %s = %d ms', (text, ms) => {
    const p = load(
      rule(`olderThan: ${text}\n    unusedFor: ${text}`) +
        `protect: { youngerThan: ${text} }\ncontainers: { stoppedFor: ${text} }\n`,
    );
    expect(p.rules[0]!.olderThanMs).toBe(ms);
    expect(p.rules[0]!.unusedForMs).toBe(ms);
    expect(p.protect.youngerThanMs).toBe(ms);
    expect(p.containers.stoppedForMs).toBe(ms);
  });

  it.each([
    ['500MB', 500e6],
    ['2GiB', 2 ** 31],
    ['40GB', 40e9],
    ['10kB', 10_000],
    ['512 MiB', 512 * 2 ** 20],
    ['1.5GB', 1.5e9],
    ['1TiB', 2 ** 40],
    ['100B', 100],
  ])('size %s = %d bytes', (text, bytes) => {
    const p = load(`version: 1\ndisk:\n  maxImageBytes: ${text}\n  targetImageBytes: ${text}\n`);
    expect(p.disk!.maxImageBytes).toBe(bytes);
    expect(p.disk!.targetImageBytes).toBe(bytes);
  });

  it.each([
    ['85%', 0.85],
    ['100%', 1],
    ['70.5%', 0.705],
    ['5%', 0.05],
  ])('percentage %s = %d', (text, fraction) => {
    const p = load(`version: 1\ndisk:\n  maxUsage: ${text}\n`);
    expect(p.disk!.maxUsage).toBeCloseTo(fraction, 12);
  });

  it('targetUsage just below maxUsage; targetImageBytes equal to maxImageBytes', () => {
    const p = load(
      'version: 1\ndisk: { maxUsage: 85%, targetUsage: 84.9%, maxImageBytes: 30GiB, targetImageBytes: 30GiB }\n',
    );
    expect(p.disk!.targetUsage).toBeCloseTo(0.849, 12);
    expect(p.disk!.targetImageBytes).toBe(p.disk!.maxImageBytes);
  });

  it('limits: whole and fractional percentages', () => {
    expect(load('version: 1\nlimits: { maxDeletions: 1, maxDeletionsPercent: 0.5 }\n').limits).toEqual({
      maxDeletions: 1,
      maxDeletionsPercent: 0.5,
    });
  });
});

describe('globs', () => {
  const sel = (field: string, pattern: string): Glob[] => {
    const p = load(`version: 1\nrules:\n  - name: x\n    match:\n      ${field}: [${JSON.stringify(pattern)}]\n`);
    return (p.rules[0]!.match as unknown as Record<string, Glob[]>)[field]!;
  };

  it.each([
    // repositories: `*` stays in a segment, `**` crosses `/`, full matches only
    ['repositories', 'registry.acme.io/ci/**', 'registry.acme.io/ci/a/b', true],
    ['repositories', 'registry.acme.io/ci/**', 'registry.acme.io/ci/a', true],
    ['repositories', 'registry.acme.io/ci/**', 'registry.acme.io/cix/a', false],
    ['repositories', 'registry.acme.io/*', 'registry.acme.io/app', true],
    ['repositories', 'registry.acme.io/*', 'registry.acme.io/ci/a', false],
    ['repositories', 'nginx', 'nginx', true],
    ['repositories', 'nginx', 'nginx2', false],
    ['repositories', 'nginx', 'library/nginx', false],
    ['repositories', '**/nginx', 'docker.io/library/nginx', true],
    ['repositories', 'ghcr.io/o/*', 'ghcr.io/o/app', true],
    ['repositories', '127.0.0.1:5000/*', '127.0.0.1:5000/a', true],
    ['repositories', 'app-{dev,prod}', 'app-prod', true],
    ['repositories', 'app-{dev,prod}', 'app-test', false],
    ['repositories', 'app?', 'app1', true],
    ['repositories', 'app?', 'app/', false],
    // tags
    ['tags', 'pr-*', 'pr-123', true],
    ['tags', 'pr-*', 'xpr-123', false],
    ['tags', 'v*.*.*', 'v1.2.3', true],
    ['tags', 'v*.*.*', 'v1.2', false],
    ['tags', 'latest', 'latest', true],
    ['tags', 'latest', 'Latest', false],
    ['tags', '*', '.hidden', true],
    ['tags', '[0-9]*', '42', true],
    // references: repository:tag
    ['references', 'nginx:1.*', 'nginx:1.25', true],
    ['references', 'nginx:1.*', 'nginx:2', false],
    ['references', 'nginx:1.*', 'nginx2:1.25', false],
    ['references', 'registry.acme.io/*:pr-*', 'registry.acme.io/app:pr-9', true],
    ['references', 'localhost:5000/app:v*', 'localhost:5000/app:v2', true],
  ] as const)('%s %s on %s -> %s', (field, pattern, text, expected) => {
    const [glob] = sel(field, pattern);
    expect(glob!.source).toBe(pattern);
    expect(glob!.test(text)).toBe(expected);
  });

  // The schema's own example of a reference glob (referencePattern description): `**` must cross `/` here too.
  it('reference registry.acme.io/ci/**:pr-* matches a nested repository', () => {
    const [glob] = sel('references', 'registry.acme.io/ci/**:pr-*');
    expect(glob!.test('registry.acme.io/ci/a:pr-1')).toBe(true);
    expect(glob!.test('registry.acme.io/ci/a/b:pr-1')).toBe(true);
  });
});

describe('labels and images', () => {
  it('label matchers: key alone, key=value, values holding "=", empty value', () => {
    const p = load('version: 1\nprotect:\n  labels: ["com.acme.keep", "tier=prod", "expr=a=b", "empty="]\n');
    expect(p.protect.labels).toEqual([
      { source: 'com.acme.keep', key: 'com.acme.keep', value: null },
      { source: 'tier=prod', key: 'tier', value: 'prod' },
      { source: 'expr=a=b', key: 'expr', value: 'a=b' },
      { source: 'empty=', key: 'empty', value: '' },
    ]);
  });

  it('labels in a rule match and exclude', () => {
    const [r] = load(
      'version: 1\nrules:\n  - name: x\n    match:\n      labels: ["ci"]\n      exclude: { labels: ["keep=true"] }\n',
    ).rules;
    expect(r!.match.labels).toEqual([{ source: 'ci', key: 'ci', value: null }]);
    expect(r!.exclude!.labels).toEqual([{ source: 'keep=true', key: 'keep', value: 'true' }]);
  });

  it('image IDs: sha256: stripped, prefixes and full IDs kept', () => {
    const full = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
    const p = load(`version: 1\nprotect:\n  images: ["sha256:3e207b409db3", "0123456789ab", "sha256:${full}"]\n`);
    expect(p.protect.images).toEqual(['3e207b409db3', '0123456789ab', full]);
    const [r] = load('version: 1\nrules:\n  - name: x\n    match: { images: ["sha256:0123456789abcdef"] }\n').rules;
    expect(r!.match.images).toEqual(['0123456789abcdef']);
  });

  // "full or >=12-hex ID prefixes"; patterns.ts lower-cases, but the schema only admits lower-case hex.
  it('image IDs in upper case are hex too, and are lower-cased', () => {
    const p = load('version: 1\nprotect:\n  images: ["sha256:3E207B409DB3"]\n');
    expect(p.protect.images).toEqual(['3e207b409db3']);
  });
});

describe('rules', () => {
  it('every selector field, exclude, action untag, keep by lastUsed, description', () => {
    const p = load(`version: 1
rules:
  - name: everything.v1_x-y
    description: free text is allowed here
    match:
      repositories: ["ghcr.io/o/**"]
      tags: ["pr-*"]
      references: ["ghcr.io/o/app:pr-*"]
      labels: ["ci=true"]
      images: ["0123456789ab"]
      untagged: false
      unused: true
      exclude:
        tags: ["*-keep"]
        untagged: false
        unused: false
    olderThan: 3d
    unusedFor: 12h
    keep: { newest: 1, by: lastUsed }
    action: untag
`);
    const [r] = p.rules;
    expect(r!.name).toBe('everything.v1_x-y');
    expect(r!.action).toBe('untag');
    expect(r!.keep).toEqual({ newest: 1, per: 'repository', by: 'lastUsed' });
    expect(r!.olderThanMs).toBe(3 * DAY);
    expect(r!.unusedForMs).toBe(12 * HOUR);
    expect(sources(r!.match.repositories)).toEqual(['ghcr.io/o/**']);
    expect(sources(r!.match.tags)).toEqual(['pr-*']);
    expect(sources(r!.match.references)).toEqual(['ghcr.io/o/app:pr-*']);
    expect(r!.match.labels).toEqual([{ source: 'ci=true', key: 'ci', value: 'true' }]);
    expect(r!.match.images).toEqual(['0123456789ab']);
    expect(r!.match.untagged).toBe(false);
    expect(r!.match.unused).toBe(true);
    expect(sources(r!.exclude!.tags)).toEqual(['*-keep']);
    expect(r!.exclude!.untagged).toBe(false);
    expect(r!.exclude!.unused).toBe(false);
    expect(r!.exclude!.repositories).toBeNull();
  });

  it('keeps file order in index, with many rules', () => {
    const names = Array.from({ length: 30 }, (_, i) => `r${i}`);
    const p = load(
      `version: 1\nrules:\n${names.map((n) => `  - { name: ${n}, match: { tags: ["${n}-*"] } }\n`).join('')}`,
    );
    expect(p.rules.map((r) => [r.index, r.name])).toEqual(names.map((n, i) => [i, n]));
  });

  it('rules: [] is valid', () => {
    expect(load('version: 1\nrules: []\n').rules).toEqual([]);
  });

  it('a small, legitimate use of anchors and aliases', () => {
    const p = load(
      'version: 1\nrules:\n  - name: a\n    match: { tags: &t ["pr-*"] }\n  - name: b\n    match: { tags: *t, unused: true }\n',
    );
    expect(sources(p.rules[1]!.match.tags)).toEqual(['pr-*']);
  });
});

describe('file forms', () => {
  const text = 'version: 1\nname: forms\nrules:\n  - name: a\n    match: { untagged: true }\n';

  it('JSON text', () => {
    const p = load(
      JSON.stringify(
        { version: 1, name: 'json', rules: [{ name: 'a', match: { untagged: true }, olderThan: '1h' }] },
        null,
        2,
      ),
      'p.json',
    );
    expect(p.name).toBe('json');
    expect(p.rules[0]!.olderThanMs).toBe(HOUR);
  });

  it('a UTF-8 byte order mark, CRLF line ends, explicit document markers', () => {
    expect(load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])).name).toBe('forms');
    expect(load(text.replace(/\n/g, '\r\n')).name).toBe('forms');
    expect(load(`---\n${text}...\n`).name).toBe('forms');
  });

  it('bytes and string give the same policy; sha256 is of the bytes', () => {
    const a = load(text);
    const b = load(new TextEncoder().encode(text));
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(a.rules[0]!.match).toEqual(b.rules[0]!.match);
  });

  it('non-ASCII names and comments', () => {
    expect(load('version: 1\nname: "café — nightly ✓"   # commentaire\n').name).toBe('café — nightly ✓');
  });
});
