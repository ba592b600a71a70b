import { describe, expect, it } from 'vitest';
import type { ImageRecord, Inventory } from '../../src/inventory/types.js';
import { accountingSkipped, makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { ago, idOf, image, inventory, layered, NOW, policy } from '../support/builders.js';

const deletedBy = (plan: Plan, rule: string) =>
  plan.actions.filter((a) => a.type === 'delete' && a.rule === rule).length;

/** Two images that share a 900 MB base; image sizes count it twice (1.91 GB in all, about 1 GB on disk). */
const sharing = () => [
  image('a', { tags: ['a:1'], size: 950_000_000, created: ago('30d') }),
  image('b', { tags: ['b:1'], size: 950_000_000, created: ago('20d') }),
  image('old', { tags: ['old:1'], size: 10_000_000, created: ago('40d') }),
];
const BASE = { digest: 'sha256:base', size: 900_000_000 };
const withLayers = (images: ImageRecord[]) =>
  images.map((i) => ({
    ...i,
    layers:
      i.id === idOf('old')
        ? [{ digest: 'sha256:old', size: i.size }]
        : [BASE, { digest: `sha256:top-${i.id.slice(7, 15)}`, size: i.size - BASE.size }],
  }));

const BUDGET = 'disk: { maxImageBytes: 1.5GB, targetImageBytes: 1GB }\n';
const DANGLING_RULE = 'rules:\n  - name: olds\n    match: { repositories: [old] }\n';
const make = (yaml: string, inv: Inventory) =>
  makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: inv, now: NOW });

describe('the reclaim estimate is exact, or there is none', () => {
  it('without layers, the disk section evicts nothing (image sizes added up would count the shared base twice)', () => {
    // 1.91 GB by sizes is over 1.5 GB; on disk the images hold about 1 GB. Image sizes must never decide an eviction.
    const plan = make(BUDGET, inventory(sharing()));
    expect(deletedBy(plan, 'disk')).toBe(0);
    expect(plan.actions).toEqual([]);
  });

  it('says so with a code and the reason the inventory gives; the run is to exit 1', () => {
    const why = '/system/df: a disk usage operation is already running, after 5 tries in 60 s';
    const plan = make(BUDGET, inventory(sharing(), [], { accountingUnavailable: why }));
    expect(plan.disk).toEqual({
      status: 'accounting-unavailable',
      goals: [],
      usageUnmeasured: false,
      evicted: 0,
      evictedBytes: 0,
      targetReached: false,
      cause: why,
    });
    expect(accountingSkipped(plan)).toBe(true);
    // No reason recorded (an inventory saved without layers): still no estimate, and no reason made up.
    const unsaid = make(BUDGET, inventory(sharing()));
    expect(unsaid.disk).toMatchObject({ status: 'accounting-unavailable', cause: null });
    expect(accountingSkipped(unsaid)).toBe(true);
  });

  it("the rules' own deletions still happen, with no bytes: the estimate is unknown", () => {
    const plan = make(`${BUDGET}${DANGLING_RULE}`, inventory(sharing()));
    expect(plan.actions).toEqual([
      { type: 'delete', imageId: idOf('old'), refs: ['old:1'], parentId: null, rule: 'olds' },
    ]);
    expect(plan.summary).toMatchObject({ deletes: 1, bytes: null, estimate: 'unavailable' });
  });

  it('one image without layers is enough to have no estimate', () => {
    const images: ImageRecord[] = withLayers(sharing());
    delete images[2]!.layers;
    const plan = make(`${BUDGET}${DANGLING_RULE}`, inventory(images));
    expect(plan.summary).toMatchObject({ bytes: null, estimate: 'unavailable' });
    expect(plan.disk?.status).toBe('accounting-unavailable');
    expect(deletedBy(plan, 'olds')).toBe(1);
    expect(deletedBy(plan, 'disk')).toBe(0);
  });

  it('an inventory that says the accounting was unavailable is believed over any layers it holds', () => {
    const plan = make(
      BUDGET,
      inventory(withLayers(sharing()), [], { accountingUnavailable: 'reading image layers: socket hang up' }),
    );
    expect(plan.disk).toMatchObject({
      status: 'accounting-unavailable',
      cause: 'reading image layers: socket hang up',
    });
    expect(plan.summary.estimate).toBe('unavailable');
  });

  it('with layers, the estimate counts the shared base once and the disk section evicts by it', () => {
    const plan = make(BUDGET, inventory(withLayers(sharing())));
    // 1.01 GB on disk: over 1.5 GB? No. Nothing to evict, where sizes would have evicted two images.
    expect(plan.disk).toMatchObject({
      status: 'under-limit',
      goals: [{ measure: 'image-bytes', before: 1_010_000_000, over: false }],
    });
    expect(accountingSkipped(plan)).toBe(false);
    const tight = make('disk: { maxImageBytes: 1GB, targetImageBytes: 500MB }\n', inventory(withLayers(sharing())));
    // LRU: old (10 MB), then a (its top only: 50 MB), then b frees its top and the base (950 MB).
    expect(Object.fromEntries(tight.actions.map((a) => [a.imageId, a.bytes]))).toEqual({
      [idOf('a')]: 50_000_000,
      [idOf('b')]: 950_000_000,
      [idOf('old')]: 10_000_000,
    });
    expect(tight.summary).toMatchObject({ bytes: 1_010_000_000, estimate: 'layers' });
  });

  it('without a disk section an unavailable estimate is only unknown bytes: nothing is skipped', () => {
    const plan = make(DANGLING_RULE, inventory(sharing()));
    expect(plan.disk).toBeNull();
    expect(plan.summary).toMatchObject({ deletes: 1, bytes: null, estimate: 'unavailable' });
    expect(plan.actions[0]).not.toHaveProperty('bytes');
    expect(accountingSkipped(plan)).toBe(false);
  });

  it('a disk section with no limit it can judge is not evaluated, accounting or not', () => {
    // maxUsage without a measured filesystem, and no maxImageBytes: there is nothing to evict toward.
    const plan = make('disk: { maxUsage: 80% }\n', inventory(sharing()));
    expect(plan.disk).toMatchObject({ status: 'not-evaluated', usageUnmeasured: true });
    expect(accountingSkipped(plan)).toBe(false);
  });

  it('a plan that deletes nothing frees exactly nothing, layers read or not (a live plan reads none then)', () => {
    const plan = make('rules:\n  - name: none\n    match: { repositories: ["nothing/here"] }\n', inventory(sharing()));
    expect(plan.summary).toMatchObject({ deletes: 0, bytes: 0, estimate: 'layers' });
  });

  it('an empty inventory has an exact estimate: nothing', () => {
    const plan = make(BUDGET, inventory([]));
    expect(plan.summary).toMatchObject({ bytes: 0, estimate: 'layers' });
    expect(plan.disk?.status).toBe('under-limit');
  });

  it('layers derived from parent chains give what their sizes suggest', () => {
    const images = layered([image('p', { size: 100 }), image('c', { tags: ['c:1'], parent: 'p', size: 150 })]);
    const plan = make(
      'rules:\n  - name: all\n    match: { repositories: ["**"] }\n  - name: bare\n    match: { untagged: true }\n',
      inventory(images),
    );
    expect(plan.summary).toMatchObject({ bytes: 150, estimate: 'layers' });
  });
});
