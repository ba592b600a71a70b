import { describe, expect, it } from 'vitest';
import type { KeptWhy, RefKeptWhy } from '../../src/plan/reasons.js';
import type { DiskSummary, Plan } from '../../src/plan/types.js';
import { diskText } from '../../src/report/disk-text.js';
import { keptText } from '../../src/report/kept-text.js';
import {
  formatPlanJson,
  formatPlanJsonChunks,
  formatPlanMarkdown,
  formatPlanText,
  formatPlanTextChunks,
  refusalText,
  summaryLine,
} from '../../src/report/plan-format.js';
import { idOf, image, inventory, NOW, policy } from '../support/builders.js';
import { makePlan } from '../../src/plan/plan.js';

const CHILD = idOf('child');
const C = CHILD.slice(7, 19);
const CID = 'c4bf418b668a'.padEnd(64, '0');

describe('keptText: the words of every reason code', () => {
  const cases: [KeptWhy | RefKeptWhy, string][] = [
    [
      { reason: 'in-use', container: { id: CID, name: 'gitlab-runner', state: 'running' } },
      'used by running container gitlab-runner (c4bf418b668a)',
    ],
    [
      { reason: 'in-use', container: { id: CID, name: null, state: 'paused' } },
      'used by paused container c4bf418b668a',
    ],
    [
      { reason: 'in-use-stopped', container: { id: CID, name: 'job', state: 'exited' }, stoppedForMs: null },
      'used by exited container job (c4bf418b668a) (containers.stopped: protect)',
    ],
    [
      { reason: 'in-use-stopped', container: { id: CID, name: 'job', state: 'created' }, stoppedForMs: 86_400_000 },
      'used by created container job (c4bf418b668a) (created, never started, less than 1d ago)',
    ],
    [
      { reason: 'protected-label', protection: { kind: 'labels', pattern: 'com.acme.keep' } },
      'label com.acme.keep (protect.labels)',
    ],
    [
      { reason: 'protected-id', protection: { kind: 'images', pattern: '3e207b409db364' } },
      'image ID 3e207b409db3 (protect.images)',
    ],
    [
      { reason: 'protected-age', protection: { kind: 'youngerThan', youngerThanMs: 5_400_000, since: 'created' } },
      'created less than 1h30m ago (protect.youngerThan)',
    ],
    [
      { reason: 'protected-age', protection: { kind: 'youngerThan', youngerThanMs: 3_600_000, since: 'first-seen' } },
      'first seen less than 1h ago (protect.youngerThan)',
    ],
    [
      { reason: 'protected-reference', ref: 'acme/ci-tools:v2.1.0', protection: { kind: 'tags', pattern: 'v*.*.*' } },
      'tag v2.1.0 (protect.tags)',
    ],
    [
      {
        reason: 'protected-reference',
        ref: 'registry.acme.io/base/python:3.12',
        protection: { kind: 'repositories', pattern: 'registry.acme.io/base/**' },
      },
      'repository registry.acme.io/base/python (protect.repositories)',
    ],
    [
      { reason: 'protected-reference', ref: 'nginx:1.27', protection: { kind: 'references', pattern: 'nginx:1.*' } },
      'reference nginx:1.27 (protect.references)',
    ],
    [{ reason: 'parent-of-kept', child: CHILD }, `parent of kept image ${C}`],
    [{ reason: 'keep-newest', rule: 'pr-builds' }, 'among the newest kept by rule pr-builds'],
    [{ reason: 'partially-selected', ref: 'a:2', refReason: 'not-selected' }, 'a:2 is not selected by any rule'],
    [
      { reason: 'partially-selected', ref: 'a:2', refReason: 'last-reference' },
      "a:2 stays as the image's last reference",
    ],
    [{ reason: 'untag-only', rule: 'u', ref: 'a:1' }, 'rule u only untags; a:1 is its last reference'],
    [{ reason: 'untag-only', rule: 'u', ref: null }, 'rule u only untags'],
    [
      { reason: 'engine-prunes-parent', parent: CHILD },
      `Podman would also remove its untagged parent ${C}, which the plan keeps`,
    ],
    [{ reason: 'not-selected' }, 'no rule selects it'],
    [{ reason: 'last-reference' }, 'the last reference of an image that stays (untagging it would delete the image)'],
    [{ reason: 'follows-tag' }, 'follows a tag of its repository that stays'],
  ];
  it.each(cases)('%j', (why, words) => {
    expect(keptText(why)).toBe(words);
  });
});

describe('diskText', () => {
  const base: DiskSummary = {
    status: 'under-limit',
    goals: [],
    usageUnmeasured: false,
    evicted: 0,
    evictedBytes: 0,
    targetReached: true,
    cause: null,
  };
  it.each<[Partial<DiskSummary>, string]>([
    [
      {
        status: 'over-limit',
        goals: [{ measure: 'usage', before: 0.8809, limit: 0.85, target: 0.7, over: true }],
        evicted: 4,
        evictedBytes: 63_700_000,
        targetReached: false,
      },
      'disk 88.1% > 85%: evicting 4 images, est. 63.7 MB, to reach 70% (target not reachable: nothing else may be evicted)',
    ],
    [
      {
        status: 'over-limit',
        goals: [
          { measure: 'usage', before: 0.5, limit: 0.85, target: 0.7, over: false },
          { measure: 'image-bytes', before: 1000, limit: 900, target: 600, over: true },
        ],
        evicted: 1,
        evictedBytes: 400,
      },
      'images 1.0 kB > 900 B: evicting 1 image, est. 400 B, to reach 600 B',
    ],
    [
      {
        goals: [
          { measure: 'usage', before: 0.3, limit: 0.9, target: 0.9, over: false },
          { measure: 'image-bytes', before: 200, limit: 1000, target: 1000, over: false },
        ],
      },
      'disk 30% <= 90%; images 200 B <= 1.0 kB: nothing to evict',
    ],
    [
      {
        goals: [{ measure: 'image-bytes', before: 200, limit: 1000, target: 1000, over: false }],
        usageUnmeasured: true,
        usageUnmeasuredWhy: 'the engine is not on this machine',
      },
      'images 200 B <= 1.0 kB: nothing to evict. maxUsage not evaluated: the engine is not on this machine; only maxImageBytes applies',
    ],
    [
      { goals: [], status: 'not-evaluated', usageUnmeasured: true },
      "disk limits not evaluated. maxUsage not evaluated: the filesystem holding the engine's images cannot be measured here; only maxImageBytes applies",
    ],
    [{ status: 'not-evaluated' }, 'disk limits not evaluated'],
    [
      {
        status: 'accounting-unavailable',
        targetReached: false,
        cause: '/system/df: a disk usage operation is already running, after 5 tries in 60 s',
      },
      "disk budget skipped: the engine's disk accounting is unavailable (/system/df: a disk usage operation is already running, after 5 tries in 60 s)",
    ],
    [
      { status: 'accounting-unavailable', targetReached: false },
      "disk budget skipped: the engine's disk accounting is unavailable (the images' layers are not known)",
    ],
  ])('%j', (summary, words) => {
    expect(diskText({ ...base, ...summary })).toBe(words);
  });
});

describe('the plan in words', () => {
  it('refusals', () => {
    expect(refusalText({ reason: 'max-deletions', deletes: 10, images: 62, limit: 5 })).toBe(
      'the plan deletes 10 images, more than limits.maxDeletions (5)',
    );
    expect(refusalText({ reason: 'max-deletions-percent', deletes: 9, images: 12, limit: 60 })).toBe(
      'the plan deletes 9 of 12 images (75%), more than limits.maxDeletionsPercent (60%)',
    );
  });

  it('without an estimate: sizes are unknown, the disk budget says it was skipped', () => {
    const plan: Plan = makePlan({
      policy: policy(
        'version: 1\ndisk: { maxImageBytes: 1B }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n',
      ),
      inventory: inventory([image('a', { tags: ['a:1'] })], [], {
        accountingUnavailable: 'reading image layers: socket hang up',
      }),
      now: NOW,
    });
    expect(summaryLine(plan)).toBe('Plan: delete 1 image (est. unknown), untag 0 references; keep 0 images of 1.');
    const text = formatPlanText(plan);
    expect(text).toMatch(/^ {2}[0-9a-f]{12} {2}unknown +all +a:1$/m);
    expect(text).toContain(
      "\nDisk: disk budget skipped: the engine's disk accounting is unavailable (reading image layers: socket hang up)\n",
    );
    expect(formatPlanMarkdown(plan)).toContain(
      "Disk: disk budget skipped: the engine's disk accounting is unavailable (reading image layers: socket hang up)",
    );
  });
});

describe('the plan written in pieces (a plan of a million images is longer than one string may be)', () => {
  const big = makePlan({
    policy: policy('version: 1\nrules:\n  - name: all\n    match: { repositories: ["app/**"] }\n'),
    inventory: inventory(
      Array.from({ length: 30_000 }, (_, i) =>
        image(`img${i}`, { tags: [`app/svc${i % 300}:v${i}`, ...(i % 3 ? [] : [`keep/svc${i}:1`])] }),
      ),
    ),
    now: NOW,
  });
  const small = makePlan({
    policy: policy('version: 1\nrules:\n  - name: a\n    match: { repositories: ["a"] }\n'),
    inventory: inventory([image('a', { tags: ['a:1'] }), image('b', { tags: ['b:1'] })]),
    now: NOW,
  });

  it.each([
    ['a small plan', small],
    ['a large plan', big],
  ])('the JSON pieces of %s are exactly the JSON, each about a megabyte at most', (_what, plan) => {
    const chunks = [...formatPlanJsonChunks(plan)];
    expect(chunks.join('')).toBe(formatPlanJson(plan));
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeLessThan(1.2 * 2 ** 20);
  });

  it('the text goes out in pieces too', () => {
    expect(big.actions.length).toBe(30_000);
    const chunks = [...formatPlanTextChunks(big)];
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.length).toBeLessThan(1.2 * 2 ** 20);
      expect(c.endsWith('\n')).toBe(true);
    }
    expect(chunks.join('')).toBe(formatPlanText(big));
    expect(chunks.at(-1)).toMatch(
      /^Plan: delete 20000 images \(est\. [^)]+\), untag 10000 references; keep 10000 images of 30000\.$/m,
    );
  });
});

describe('the Markdown plan: its kept count and its table agree', () => {
  const make = (names: string[]) =>
    makePlan({
      policy: policy(
        'version: 1\nprotect: { repositories: ["keep/**"] }\nrules:\n  - name: old\n    match: { repositories: ["old/**"] }\n',
      ),
      inventory: inventory(names.map((n) => image(n, { tags: [`${n.replace(/\d+$/, '')}/app:${n}`] }))),
      now: NOW,
    });
  const rows = (md: string) => md.split('\n').filter((l) => /^\| `[0-9a-f]{12}` \|/.test(l)).length;

  it('says which kept images the table lists, and how many it leaves out', () => {
    const plan = make(['keep1', 'keep2', 'other1', 'other2', 'other3', 'old1']);
    const md = formatPlanMarkdown(plan);
    expect(md).toContain('<details><summary>Kept: 5 images (');
    expect(md).toContain(
      'Listed: the 2 images kept for a reason other than "no rule selects it"; the other 3 are not listed.',
    );
    expect(rows(md.slice(md.indexOf('<details>')))).toBe(2);
    expect(formatPlanMarkdown(make(['keep1', 'other1', 'old1']))).toContain('; the other one is not listed.');
  });

  it('says so when it lists none', () => {
    const md = formatPlanMarkdown(make(['other1', 'other2', 'old1']));
    expect(md).toContain('<details><summary>Kept: 2 images (');
    expect(md).toContain('None is listed: no rule selects them.');
    expect(rows(md.slice(md.indexOf('<details>')))).toBe(0);
  });
});
