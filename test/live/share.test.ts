/**
 * Layer reads for the reclaim estimate: which images are read, and that the layers given to the rest (inferred
 * from /system/df's figures) free exactly what the real layers would, for any set of deleted images.
 * The engine is the fake, whose /system/df counts as Docker's graph-driver store does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachLayers } from '../../src/live/layers.js';
import type { ImageRecord, Inventory } from '../../src/inventory/types.js';
import { image, inventory } from '../support/builders.js';
import { FakeEngine } from '../support/fake-engine.js';
import { freedBytes } from '../support/layers.js';

type Layers = { digest: string; size: number }[];

const layer = (name: string, size: number) => ({ digest: `sha256:${name.padStart(64, '0')}`, size });
const sum = (ls: Layers) => ls.reduce((s, l) => s + l.size, 0);
/** An image of these layers; its own size is what they add up to, as the engine lists it. */
const img = (name: string, layers: Layers, opts: Partial<ImageRecord> & { tags?: string[]; parent?: string } = {}) =>
  image(name, { tags: [`${name}:1`], size: sum(layers), layers, ...opts });

/** Runs attachLayers on a fake engine holding `truth`; the inventory it fills has no layers to start with. */
async function attach(
  truth: ImageRecord[],
  opts: { kind?: 'docker' | 'podman'; store?: 'classic' | 'containerd' } = {},
) {
  const real = inventory(truth);
  real.engine = { ...real.engine, kind: opts.kind ?? 'docker', imageStore: opts.store ?? 'classic' };
  const engine = new FakeEngine(real);
  const inv: Inventory = { ...real, images: truth.map(({ layers: _, ...i }) => i) };
  const fetch = await attachLayers(engine, inv);
  const read = engine.callsOf('imageLayers').map((c) => c.args[0] as string);
  return { inv, read, fetch };
}

/** For every image deleted, and for each set in `subsets`: the inferred layers free what the real ones do. */
function expectSameEstimate(truth: ImageRecord[], inferred: ImageRecord[], subsets: Set<string>[]) {
  expect(freedBytes(inferred, new Set(truth.map((i) => i.id)))).toBe(
    freedBytes(truth, new Set(truth.map((i) => i.id))),
  );
  for (const gone of subsets) expect(freedBytes(inferred, gone)).toBe(freedBytes(truth, gone));
}

/** Every subset of a few images. */
function subsetsOf(ids: string[]): Set<string>[] {
  if (ids.length > 12) throw new Error(`${ids.length} images: too many for every subset`);
  return Array.from({ length: 2 ** ids.length }, (_, m) => new Set(ids.filter((_, k) => (m >> k) & 1)));
}

describe('layer reads for the reclaim estimate', () => {
  const base = [layer('b0', 50_000), layer('b1', 7_000)];
  const other = [layer('o0', 61_000)];

  /** `n` images on two bases, each with a layer of its own; `n` / 2 more that are the same stack again. */
  function fleet(n: number): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (let k = 0; k < n; k++) {
      const under = k % 2 ? base : other;
      out.push(img(`app-${k}`, [...under, layer(`own-${k}`, 1_000 + k)]));
    }
    for (let k = 0; k < n / 2; k++) out.push(img(`copy-${k}`, [...base, layer('shared-top', 900)]));
    return out;
  }

  it('reads one image per shared stack, whatever the number of images', async () => {
    const small = await attach(fleet(20));
    const large = await attach(fleet(400));
    // A base-b image, an other-base image, a copy (its whole stack is shared): three reads at any N.
    expect(small.read).toHaveLength(3);
    expect(large.read).toHaveLength(3);
    expect(large.fetch).toMatchObject({ fetched: 3, calls: 7 });
    const truth = fleet(400);
    const ids = truth.map((i) => i.id);
    expectSameEstimate(truth, large.inv.images, [
      new Set(ids.slice(0, 7)),
      new Set(ids.filter((_, k) => k % 3 === 0)),
      new Set(ids.slice(400)),
    ]);
  });

  it('an image that shares nothing is one layer of its own size, and nothing is read for it', async () => {
    const truth = [
      img('alone', [layer('a0', 10), layer('a1', 20)]),
      img('b', base),
      img('c', [...base, layer('c', 5)]),
    ];
    const { inv, read } = await attach(truth);
    expect(read).toHaveLength(1);
    expect(inv.images[0]!.layers).toHaveLength(1);
    expect(inv.images[0]!.layers![0]!.size).toBe(30);
    expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
  });

  it('sizes that match two different stacks are not guessed: those images are read', async () => {
    // x and y: two different 300-byte diffs on the same base; z matches both by size, and shares x's.
    const truth = [
      img('x', [...base, layer('x', 300)]),
      img('x2', [...base, layer('x', 300)]),
      img('y', [...base, layer('y', 300)]),
      img('y2', [...base, layer('y', 300)]),
      img('z', [...base, layer('x', 300), layer('z', 1)]),
    ];
    const { inv, read } = await attach(truth);
    expect(read.length).toBeGreaterThan(2);
    expect(read).toContain(truth[4]!.id);
    expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
  });

  it('empty layers change no bytes: a stack matched through one is still exact', async () => {
    const empty = layer('empty', 0);
    const truth = [
      img('e1', [...base, empty, layer('e1', 10)]),
      img('e2', [...base, empty, layer('e2', 20)]),
      img('plain', [...base, layer('p', 30)]),
      img('bare', [...base, empty]),
    ];
    const { inv } = await attach(truth);
    expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
  });

  it('a size that matches a read stack by chance is caught by /system/df LayersSize, and those images are read', async () => {
    // q1 and q2 share one layer with each other only, as large as base + x (57,000 + 300): they match a stack
    // they do not have.
    const truth = [
      img('x', [...base, layer('x', 300)]),
      img('x2', [...base, layer('x', 300)]),
      img('q1', [layer('q', 57_300), layer('q1', 4)]),
      img('q2', [layer('q', 57_300), layer('q2', 8)]),
    ];
    const { inv, read } = await attach(truth);
    expect(read).toEqual(expect.arrayContaining([truth[2]!.id, truth[3]!.id]));
    expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
  });

  it('legacy-builder steps (not in /system/df) are the bottom of a read image above them', async () => {
    const step1 = img('step1', [...base], { tags: [] });
    const step2 = img('step2', [...base, layer('run', 5_000)], { tags: [], parent: 'step1' });
    const child = img('child', [...base, layer('run', 5_000), layer('run2', 70)], { parent: 'step2' });
    const sibling = img('sibling', [...base, layer('s', 9)]);
    const truth = [step1, step2, child, sibling, img('cousin', [...base, layer('c', 11)])];
    const { inv, read } = await attach(truth);
    expect(read).toContain(child.id);
    expect(read).not.toContain(step1.id);
    expect(read).not.toContain(step2.id);
    expect(inv.images[0]!.layers).toEqual(base);
    expect(inv.images[1]!.layers).toEqual([...base, layer('run', 5_000)]);
    expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
  });

  it('Podman and containerd image stores: every image that may share is read', async () => {
    const truth = fleet(10);
    expect((await attach(truth, { kind: 'podman' })).read).toHaveLength(truth.length);
    const containerd = await attach(truth, { store: 'containerd' });
    expect(containerd.read).toHaveLength(truth.length);
    expectSameEstimate(truth, containerd.inv.images, []);
  });

  it('containerd store: an image frees its disk usage (compressed content and every pulled platform), not only the unpacked layers its history sizes', async () => {
    // The engine reads history for one platform: unpacked sizes. Its listed size adds the compressed blobs
    // (and other pulled platforms); a platform never pulled adds nothing.
    const shared = [layer('base', 7_200_000)];
    const app = image('app', {
      tags: ['app:1'],
      size: 7_800_000 + 3_400_000,
      layers: [...shared, layer('app', 600_000)],
    });
    const base = image('base', { tags: ['base:1'], size: 7_200_000 + 3_100_000, layers: shared });
    const { inv } = await attach([app, base], { store: 'containerd' });
    const gone = (...ids: string[]) => freedBytes(inv.images, new Set(ids));
    expect(gone(app.id)).toBe(600_000 + 3_400_000);
    expect(gone(base.id)).toBe(3_100_000);
    expect(gone(app.id, base.id)).toBe(7_800_000 + 3_400_000 + 3_100_000);
    // The classic store lists the unpacked size only: nothing is added.
    const classic = await attach([
      { ...app, size: 7_800_000 },
      { ...base, size: 7_200_000 },
    ]);
    expect(freedBytes(classic.inv.images, new Set([app.id, base.id]))).toBe(7_800_000);
  });

  it('property: for any images on any stacks, what the estimate frees is what the real layers free', async () => {
    // Few distinct sizes (zeros among them) make equal running sizes on different stacks, and chance matches.
    const sizes = fc.oneof(fc.constantFrom(0, 100, 200, 300), fc.integer({ min: 1, max: 1_000_000 }));
    const stack = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), sizes), { minLength: 1, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(stack, fc.boolean()), { minLength: 1, maxLength: 9 }), async (specs) => {
        // Diff k has one size wherever it is (a diff's size does not depend on the stack under it).
        const sizeOf = new Map<number, number>();
        const truth = specs.map(([ls, own], n) => {
          const layers = ls.map(([k, s]) => {
            if (!sizeOf.has(k)) sizeOf.set(k, s);
            return layer(`d${k}`, sizeOf.get(k)!);
          });
          return img(`i${n}`, own ? [...layers, layer(`own${n}`, 1 + n)] : layers);
        });
        const { inv } = await attach(truth);
        expectSameEstimate(truth, inv.images, subsetsOf(truth.map((i) => i.id)));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    [
      '/system/df cannot be had',
      'diskUsage',
      'a disk usage operation is already running, after 9 tries in 60 s (diskUsage)',
    ],
    ['a layer read fails', 'imageLayers', 'reading image layers: engine went away (imageLayers)'],
  ])('when %s, no image gets layers (no guess) and the inventory says why', async (_what, method, why) => {
    const truth = fleet(6);
    const real = inventory(truth);
    const engine = new FakeEngine(real);
    engine.fault = (m) =>
      m !== method
        ? undefined
        : {
            kind: 'throw',
            message:
              method === 'diskUsage'
                ? 'a disk usage operation is already running, after 9 tries in 60 s'
                : 'engine went away',
          };
    const inv: Inventory = { ...real, images: truth.map(({ layers: _, ...i }) => i) };
    await attachLayers(engine, inv);
    expect(inv.images.every((i) => i.layers === undefined)).toBe(true);
    expect(inv.accountingUnavailable).toBe(why);
  });
});
