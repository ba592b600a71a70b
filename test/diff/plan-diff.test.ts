import { describe, expect, it } from 'vitest';
import { diffPlans } from '../../src/diff/plan-diff.js';
import { makePlan } from '../../src/plan/plan.js';
import { formatDiffMarkdown, formatDiffText } from '../../src/report/diff-format.js';
import { NOW, ago, cacheRecord, container, idOf, image, inventory, layered, policy } from '../support/builders.js';

const images = layered([
  image('app-old', { tags: ['ci/app:pr-1'], age: '20d', size: 300_000_000 }),
  image('app-new', { tags: ['ci/app:pr-2'], age: '1d', size: 200_000_000 }),
  image('multi', { tags: ['ci/app:sha-1', 'ci/app:pr-9'], age: '20d', size: 100_000_000 }),
  image('base', { tags: ['base/node:20'], age: '90d', size: 500_000_000 }),
  image('job', { tags: ['ci/job:1'], age: '40d', size: 50_000_000 }),
]);
const inv = inventory(images, [container('done', 'job', 'exited', { finished: '5d' })]);
const planOf = (yaml: string) => makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: inv, now: NOW });

const OLD = `containers: { stopped: remove, stoppedFor: 1d }
rules:
  - name: pr-builds
    match: { repositories: ["ci/**"], tags: ["pr-*", "sha-*"] }
    olderThan: 7d
  - name: jobs
    match: { repositories: ["ci/job"] }
    olderThan: 30d
`;

describe('diffPlans', () => {
  it('the same plan twice: nothing changes', () => {
    const d = diffPlans(planOf(OLD), planOf(OLD));
    expect(d).toMatchObject({ changed: false, images: [], containers: [], buildCache: [], bytes: 0, notes: [] });
    expect(formatDiffText(d)).toContain('No image, reference, container or build-cache record changes fate.');
  });

  it('kept -> deleted and deleted -> kept, with the rule and reason on each side and the bytes', () => {
    // The new policy protects pr-1 and adds a rule for the base image.
    const next = `${OLD.replace('tags: ["pr-*", "sha-*"] }', 'tags: ["pr-*", "sha-*"], exclude: { tags: ["pr-1"] } }')}  - name: old-bases
    match: { repositories: ["base/**"] }
    olderThan: 60d
`;
    const d = diffPlans(planOf(OLD), planOf(next));
    expect(d.changed).toBe(true);
    const byId = new Map(d.images.map((c) => [c.imageId, c]));
    expect([...byId.keys()].sort()).toEqual([idOf('app-old'), idOf('base')].sort());
    const appOld = byId.get(idOf('app-old'))!;
    expect(appOld.before).toMatchObject({ fate: 'deleted', rules: ['pr-builds'] });
    expect(appOld.after).toMatchObject({ fate: 'kept', why: { reason: 'not-selected' } });
    expect(appOld.bytes).toBe(-300_000_000);
    const base = byId.get(idOf('base'))!;
    expect(base.before).toMatchObject({ fate: 'kept', why: { reason: 'not-selected' } });
    expect(base.after).toMatchObject({ fate: 'deleted', rules: ['old-bases'] });
    expect(base.bytes).toBe(500_000_000);
    expect(d.bytes).toBe(200_000_000);
    expect(d.before.deletes).toBe(3);
    expect(d.after.deletes).toBe(3);

    const text = formatDiffText(d);
    expect(text).toMatch(/2 images change fate:/);
    expect(text).toMatch(/ci\/app:pr-1 +deleted by rule pr-builds +kept: no rule selects it +-300 MB/);
    expect(text).toMatch(/base\/node:20 +kept: no rule selects it +deleted by rule old-bases +\+500 MB/);
    expect(text).toContain('Deletes 3, untags 1, container removals 1, reclaims 450 MB -> 650 MB (+200 MB).');
  });

  it('deleted -> untag-only: the references that change are listed one by one', () => {
    // pr-9 is protected in the new policy: the image stays, only sha-1 goes.
    const d = diffPlans(planOf(OLD), planOf(`protect: { tags: ["pr-9"] }\n${OLD}`));
    expect(d.images).toHaveLength(1);
    const c = d.images[0]!;
    expect(c.imageId).toBe(idOf('multi'));
    expect(c.before.fate).toBe('deleted');
    expect(c.after).toMatchObject({ fate: 'untagged', untagged: ['ci/app:sha-1'], rules: ['pr-builds'] });
    expect(c.refChanges).toEqual([
      { ref: 'ci/app:sha-1', before: 'deleted', after: 'untagged' },
      { ref: 'ci/app:pr-9', before: 'deleted', after: 'kept' },
    ]);
    expect(formatDiffText(d)).toMatch(/ci\/app:pr-9 +deleted +kept/);
  });

  it('stopped containers removed in one plan only', () => {
    // Stopped 5 days ago: removed (with its image) under stoppedFor 1d, kept (and its image) under 7d.
    const d = diffPlans(planOf(OLD), planOf(OLD.replace('stoppedFor: 1d', 'stoppedFor: 7d')));
    expect(d.containers).toEqual([
      { containerId: idOf('container:done').slice(7), imageId: idOf('job'), before: 'removed', after: 'kept' },
    ]);
    expect(d.images.map((c) => [c.imageId, c.before.fate, c.after.fate, c.after.why?.reason])).toEqual([
      [idOf('job'), 'deleted', 'kept', 'in-use-stopped'],
    ]);
    expect(formatDiffText(d)).toMatch(/1 stopped container change fate:\n.*\n .*removed +kept/);
  });

  it('build-cache records removed in one plan only', () => {
    const record = (id: string, used: string) => cacheRecord(id, { used });
    const withCache = inventory(images, [], { buildCache: [record('r1', '5d'), record('r2', '1d')] });
    const p = (yaml: string) => makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: withCache, now: NOW });
    const d = diffPlans(p('buildCache: { unusedFor: 7d }\n'), p('buildCache: { unusedFor: 3d }\n'));
    expect(d.buildCache).toEqual([
      expect.objectContaining({
        id: 'r1',
        before: { removed: false, reason: 'recently-used' },
        after: { removed: true, reason: 'unused-for' },
      }),
    ]);
    expect(d.after.cacheBytes).toBe(1_000);
  });

  it('says when the plans come from different inventories or engines', () => {
    const a = planOf(OLD);
    const later = makePlan({
      policy: policy(`version: 1\n${OLD}`),
      inventory: { ...inv, capturedAt: ago('1d', NOW + 86_400_000) },
      now: NOW,
    });
    expect(
      diffPlans(a, { ...later, inventory: { ...later.inventory, capturedAt: '2026-11-28T12:00:00.000Z' } }).notes,
    ).toEqual([expect.stringContaining('different inventories')]);
    expect(diffPlans(a, { ...a, engine: { ...a.engine, key: 'other', name: 'other-host' } }).notes).toEqual([
      expect.stringContaining('different engines (test-host and other-host)'),
    ]);
  });

  it('Markdown escapes what came from outside and keeps references in code spans', () => {
    const md = formatDiffMarkdown(diffPlans(planOf(OLD), planOf(`name: "<b>*x*</b>"\nrules: []\n`)));
    expect(md).toContain('&lt;b&gt;\\*x\\*&lt;/b&gt;');
    expect(md).not.toContain('<b>');
    expect(md).toContain(
      '| `9323fb3d5c27` | `ci/app:pr-1` | deleted by rule pr-builds | kept: no rule selects it | -300 MB |',
    );
    expect(md).toContain('Deletes 3 → 0');
  });
});
