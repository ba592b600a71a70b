import { describe, expect, it } from 'vitest';
import { planBuildCache } from '../../src/plan/build-cache.js';
import { makePlan } from '../../src/plan/plan.js';
import { formatPlanText } from '../../src/report/plan-format.js';
import { NOW, ago, cacheRecord, image, inventory, layered, policy } from '../support/builders.js';

const record = cacheRecord;

const section = (yaml: string) => policy(`version: 1\nbuildCache:\n${yaml}`).buildCache!;
const ids = (xs: { id: string }[]) => xs.map((x) => x.id);

describe('planning the build cache', () => {
  it('unusedFor: records not used for that long go (LastUsedAt, else CreatedAt)', () => {
    const p = planBuildCache(
      section('  unusedFor: 72h\n'),
      [record('old', { used: '4d' }), record('recent', { used: '1d' }), record('never', { createdAt: ago('5d') })],
      NOW,
      null,
    );
    expect(ids(p.remove)).toEqual(['never', 'old']);
    expect(p.remove.every((r) => r.reason === 'unused-for')).toBe(true);
    expect(p.kept).toEqual([expect.objectContaining({ id: 'recent', reason: 'recently-used' })]);
    expect(p.bytes).toBe(2_000);
  });

  it('never a record in use, nor one an image shares with keepShared, nor a type not selected', () => {
    const records = [
      record('busy', { used: '9d', inUse: true }),
      record('shared', { used: '9d', shared: true }),
      record('mount', { used: '9d', type: 'exec.cachemount' }),
      record('internal', { used: '9d', type: 'internal' }),
      record('plain', { used: '9d' }),
    ];
    const p = planBuildCache(section('  unusedFor: 1h\n  types: [regular]\n'), records, NOW, null);
    expect(ids(p.remove)).toEqual(['plain']);
    expect(Object.fromEntries(p.kept.map((k) => [k.id, k.reason]))).toEqual({
      busy: 'in-use',
      shared: 'shared',
      mount: 'type-not-selected',
      internal: 'type-not-selected',
    });
    // keepShared: false lets shared records go; in-use ones never; internal only when named.
    const loose = planBuildCache(section('  unusedFor: 1h\n  keepShared: false\n'), records, NOW, null);
    expect(ids(loose.remove).sort()).toEqual(['mount', 'plain', 'shared']);
  });

  it('keepBytes: least recently used first until the cache is at most keepBytes (shared records not counted)', () => {
    const records = [
      record('a', { used: '5h', size: 400 }),
      record('b', { used: '4h', size: 300 }),
      record('c', { used: '3h', size: 200 }),
      record('d', { used: '1h', size: 100 }),
      record('img', { used: '9h', size: 5_000, shared: true }),
      record('run', { used: '1m', size: 50, inUse: true }),
    ];
    // 1050 counted; down to 500: a (400) then b (300) go -> 350.
    const p = planBuildCache(section('  keepBytes: 500B\n'), records, NOW, null);
    expect(ids(p.remove)).toEqual(['a', 'b']);
    expect(p.remove.every((r) => r.reason === 'keep-bytes')).toBe(true);
    expect(p.kept.filter((k) => k.reason === 'within-keep-bytes').map((k) => k.id)).toEqual(['c', 'd']);
    // With unusedFor first: a goes for its age, then keepBytes counts what is left.
    const both = planBuildCache(section('  unusedFor: 270m\n  keepBytes: 300B\n'), records, NOW, null);
    expect(both.remove.map((r) => [r.id, r.reason])).toEqual([
      ['a', 'unused-for'],
      ['b', 'keep-bytes'],
      ['c', 'keep-bytes'],
    ]);
  });

  it('no cache to read (Podman): not applicable, nothing removed', () => {
    const p = planBuildCache(section('  unusedFor: 1h\n'), null, NOW, 'Podman keeps no BuildKit build cache');
    expect(p).toMatchObject({ status: 'not-applicable', remove: [], bytes: 0 });
  });
});

describe('a disk budget over images and build cache', () => {
  const images = layered([image('a', { tags: ['a:1'], size: 1_000 }), image('b', { tags: ['b:1'], size: 1_000 })]);
  const cache = [
    record('c1', { used: '3d', size: 600 }),
    record('c2', { used: '2d', size: 600 }),
    record('c3', { used: '1d', size: 600, inUse: true }),
  ];
  const plan = (yaml: string) =>
    makePlan({
      policy: policy(`version: 1\n${yaml}`),
      inventory: inventory(images, [], { buildCache: cache }),
      now: NOW,
    });

  it('counts the cache toward maxImageBytes, and takes what buildCache allows first, least recently used first', () => {
    // 2000 image bytes + 1800 cache = 3800 > 3000; down to 3000: c1 (600) then c2 (600) -> 2600; no image goes.
    const p = plan('buildCache: { unusedFor: 30d }\ndisk: { maxImageBytes: 3000B }\n');
    expect(p.buildCache!.remove.map((r) => [r.id, r.reason]).sort()).toEqual([
      ['c1', 'disk'],
      ['c2', 'disk'],
    ]);
    expect(p.actions).toEqual([]);
    expect(p.disk).toMatchObject({ status: 'over-limit', cacheEvicted: 2, cacheEvictedBytes: 1_200, evicted: 0 });
    expect(formatPlanText(p)).toMatch(
      /images and build cache 3\.8 kB > 3\.0 kB: removing 2 build-cache records \(1\.2 kB\) first, then evicting 0 images/,
    );
  });

  it('then images, when the cache it may take is not enough; never a record in use', () => {
    const p = plan('buildCache: { unusedFor: 30d }\ndisk: { maxImageBytes: 2000B }\n');
    expect(p.buildCache!.remove.map((r) => r.id).sort()).toEqual(['c1', 'c2']);
    expect(p.actions.filter((a) => a.type === 'delete')).toHaveLength(1);
    expect(p.disk).toMatchObject({ cacheEvicted: 2, evicted: 1 });
  });

  it('a record an image shares is counted once, with the images, and never taken (removing it frees nothing)', () => {
    const withShared = (yaml: string) =>
      makePlan({
        policy: policy(`version: 1\n${yaml}`),
        inventory: inventory(images, [], {
          buildCache: [...cache, record('s1', { used: '9d', size: 900, shared: true })],
        }),
        now: NOW,
      });
    // 2000 image bytes + 1800 private cache = 3800 (not 4700); the shared record is the oldest but stays.
    const p = withShared('buildCache: { unusedFor: 30d, keepShared: false }\ndisk: { maxImageBytes: 3000B }\n');
    expect(p.disk!.goals[0]!.before).toBe(3_800);
    expect(p.buildCache!.remove.map((r) => r.id).sort()).toEqual(['c1', 'c2']);
    expect(p.disk).toMatchObject({ cacheEvicted: 2, cacheEvictedBytes: 1_200, evicted: 0 });
  });

  it('without a buildCache section the budget counts and takes images only', () => {
    const p = plan('disk: { maxImageBytes: 1500B }\n');
    expect(p.buildCache).toBeUndefined();
    expect(p.disk!.cacheEvicted).toBeUndefined();
    expect(p.disk!.goals[0]!.before).toBe(2_000);
  });
});
