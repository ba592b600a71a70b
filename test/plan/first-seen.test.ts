import { describe, expect, it } from 'vitest';
import type { UsageEntry } from '../../src/inventory/types.js';
import { makePlan } from '../../src/plan/plan.js';
import { firstSeenText, formatPlanMarkdown, formatPlanText } from '../../src/report/plan-format.js';
import { NOW, ago, idOf, image, inventory, policy } from '../support/builders.js';

const POLICY = policy(
  'version: 1\nprotect: { youngerThan: 6h }\nrules:\n  - name: old\n    match: { repositories: ["**"] }\n    olderThan: 7d\n',
);

/** Every image created a month ago; `seen` says when imgsweep first saw each (by name). */
function planOf(seen: Record<string, string>, usageStarted: boolean) {
  const images = Object.keys(seen).map((name) => image(name, { tags: [`${name}:1`], age: '30d' }));
  const usage: Record<string, UsageEntry> = Object.fromEntries(
    Object.entries(seen).map(([name, at]) => [idOf(name), { firstSeen: at, lastUsed: at, source: 'first-seen' }]),
  );
  return makePlan({ policy: POLICY, inventory: inventory(images, [], { usage }), now: NOW, usageStarted });
}

describe('a first run explains why it plans little', () => {
  it('the usage record started now: every old image is kept, and the plan says why and until when', () => {
    const now = new Date(NOW).toISOString();
    const plan = planOf({ a: now, b: now, c: now }, true);
    expect(plan.actions).toEqual([]);
    expect(plan.firstSeen).toEqual({
      images: 3,
      youngerThan: '6h',
      eligibleFrom: '2026-11-27T18:00:00.000Z',
      eligibleBy: '2026-11-27T18:00:00.000Z',
      recordStarted: true,
    });
    const line = firstSeenText(plan)!;
    expect(line).toBe(
      'Note: 3 images are kept only because imgsweep first saw them less than 6h ago (protect.youngerThan), as this ' +
        'run is its first on this engine (it started the usage record); they become eligible at 2026-11-27T18:00:00.000Z.',
    );
    expect(formatPlanText(plan)).toContain(`${line}\nNothing to do.\n`);
    expect(formatPlanMarkdown(plan)).toContain('> [!NOTE]\n> 3 images are kept only because');
  });

  it('without a new record, said when most kept images are young only by first sight, with the range', () => {
    const plan = planOf({ a: ago('1h'), b: ago('5h'), c: ago('10d') }, false);
    // c was seen long ago: its rule deletes it; a and b are the only kept images.
    expect(plan.actions.map((a) => a.imageId)).toEqual([idOf('c')]);
    expect(plan.firstSeen).toMatchObject({
      images: 2,
      eligibleFrom: '2026-11-27T13:00:00.000Z',
      eligibleBy: '2026-11-27T17:00:00.000Z',
      recordStarted: false,
    });
    expect(firstSeenText(plan)).toMatch(
      /; they become eligible from 2026-11-27T13:00:00.000Z to 2026-11-27T17:00:00.000Z\.$/,
    );
  });

  it('not said when such images are a minority of those kept and the record is old, or when there are none', () => {
    const images = ['a', 'b', 'c'].map((n) => image(n, { tags: [`keep/${n}:1`], age: '1h' }));
    images.push(image('d', { tags: ['d:1'], age: '30d' }));
    const usage = { [idOf('d')]: { firstSeen: ago('1h'), lastUsed: ago('1h') } };
    // a, b, c are young by creation; only d is young by first sight: 1 of 4 kept.
    const plan = makePlan({ policy: POLICY, inventory: inventory(images, [], { usage }), now: NOW });
    expect(plan.kept).toHaveLength(4);
    expect(plan.firstSeen).toBeUndefined();
    expect(firstSeenText(plan)).toBeNull();
    expect(formatPlanText(plan)).not.toContain('Note:');
    // The same with a record started now: said, since this run saw everything first.
    expect(
      makePlan({ policy: POLICY, inventory: inventory(images, [], { usage }), now: NOW, usageStarted: true }).firstSeen,
    ).toMatchObject({ images: 1, recordStarted: true });
    // No protect.youngerThan: nothing is kept for being new.
    const none = policy('version: 1\nrules:\n  - name: old\n    match: { repositories: ["**"] }\n    olderThan: 7d\n');
    expect(
      makePlan({ policy: none, inventory: inventory(images, [], { usage }), now: NOW, usageStarted: true }).firstSeen,
    ).toBeUndefined();
  });
});

describe('the plan file', () => {
  it('holds firstSeen as its schema describes it', async () => {
    const { planProblems } = await import('../../src/execute/plan-file.js');
    const now = new Date(NOW).toISOString();
    const plan = planOf({ a: now }, true);
    expect(plan.firstSeen).toBeDefined();
    expect(planProblems(JSON.parse(JSON.stringify(plan)))).toEqual([]);
    expect(planProblems({ ...plan, firstSeen: { ...plan.firstSeen, images: 'many' } })).not.toEqual([]);
  });
});
