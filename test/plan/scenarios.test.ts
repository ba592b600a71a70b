import { describe, expect, it } from 'vitest';
import { makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { diskText } from '../../src/report/disk-text.js';
import { formatInventoryText } from '../../src/report/inventory-format.js';
import type { ContainerRecord, ImageRecord } from '../../src/inventory/types.js';
import { ago, container, idOf, image, inventory, layered, NOW, policy } from '../support/builders.js';

/** A compact view of a plan: what is deleted, untagged, removed, and why each kept image stays. */
function outcome(plan: Plan) {
  const name = (id: string) => names.get(id) ?? id;
  return {
    deleted: plan.actions.filter((a) => a.type === 'delete').map((a) => name(a.imageId)),
    untagged: plan.actions.filter((a) => a.type === 'untag').map((a) => a.ref),
    removed: plan.actions.filter((a) => a.type === 'remove-container').map((a) => a.containerId),
    kept: Object.fromEntries(plan.kept.map((k) => [name(k.imageId), k.reason])),
  };
}
const names = new Map<string, string>();
function img(name: string, opts: Parameters<typeof image>[1] = {}): ImageRecord {
  names.set(idOf(name), name);
  return image(name, opts);
}
function plan(yaml: string, images: ImageRecord[], containers: ContainerRecord[] = [], now = NOW): Plan {
  return makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: inventory(layered(images), containers), now });
}

const ALL = `rules:\n  - name: all\n    match: { repositories: ["**"] }\n  - name: bare\n    match: { untagged: true }\n`;

describe('references and images', () => {
  it('an image with two tags where only one is selected is untagged only', () => {
    const o = outcome(
      plan(`rules:\n  - name: r\n    match: { tags: ["950"] }\n`, [
        img('a', { tags: ['alpine:950', 'alpine:latest'] }),
      ]),
    );
    expect(o).toEqual({ deleted: [], untagged: ['alpine:950'], removed: [], kept: { a: 'partially-selected' } });
  });

  it('an image with two tags, both selected: one untagged, then deleted by ID with the last', () => {
    const p = plan(`rules:\n  - name: r\n    match: { repositories: [alpine] }\n`, [
      img('a', { tags: ['alpine:950', 'alpine:latest'] }),
    ]);
    expect(outcome(p)).toMatchObject({ deleted: ['a'], untagged: ['alpine:latest'] });
    const del = p.actions.find((a) => a.type === 'delete')!;
    expect(del.refs).toEqual(['alpine:950']);
    expect(p.actions.map((a) => a.type)).toEqual(['untag', 'delete']);
  });

  it('tags in different repositories: all but one untagged before the delete', () => {
    const p = plan(ALL, [img('a', { tags: ['x/a:1', 'y/b:2', 'z:3'] })]);
    expect(outcome(p)).toMatchObject({ deleted: ['a'], untagged: ['y/b:2', 'z:3'] });
    expect(p.actions.at(-1)!.refs).toEqual(['x/a:1']);
  });

  it('digest references go with the last tag of their repository', () => {
    const d = `app@sha256:${'a'.repeat(64)}`;
    const p = plan(`rules:\n  - name: r\n    match: { tags: ["1"] }\n`, [img('a', { tags: ['app:1'], digests: [d] })]);
    expect(outcome(p)).toMatchObject({ deleted: ['a'], untagged: [] });
    expect(p.actions[0]!.refs).toEqual(['app:1', d]);
  });

  it('a digest that is a name of its own (Podman, pulled by digest) is untagged by name, not left to its tag', () => {
    const d = `mirror.local:5000/web@sha256:${'e'.repeat(64)}`;
    const rule = `rules:\n  - name: mirror\n    action: untag\n    match: { repositories: ["mirror.local:5000/**"] }\n`;
    const podman = img('w', { tags: ['localhost/web:2', 'mirror.local:5000/web:2', d] });
    expect(outcome(plan(rule, [podman]))).toMatchObject({ deleted: [], untagged: ['mirror.local:5000/web:2', d] });
    // On Docker the same digest is no name: it goes with its repository's last tag.
    const docker = img('w', { tags: ['localhost/web:2', 'mirror.local:5000/web:2'], digests: [d] });
    expect(outcome(plan(rule, [docker]))).toMatchObject({ deleted: [], untagged: ['mirror.local:5000/web:2'] });
  });

  it('a digest-only image is untagged: `untagged: true` selects it', () => {
    const p = plan(`rules:\n  - name: d\n    match: { untagged: true }\n`, [
      img('a', { digests: [`app@sha256:${'b'.repeat(64)}`] }),
      img('t', { tags: ['app:1'] }),
    ]);
    expect(outcome(p)).toMatchObject({ deleted: ['a'], kept: { t: 'not-selected' } });
  });

  it('digest references in a repository without tags are references of their own', () => {
    const dx = `x@sha256:${'c'.repeat(64)}`;
    const p = plan(`rules:\n  - name: r\n    match: { tags: ["1"] }\n`, [img('a', { tags: ['app:1'], digests: [dx] })]);
    // x@sha256:... keeps the image alive, so app:1 may go by name.
    expect(outcome(p)).toMatchObject({ deleted: [], untagged: ['app:1'], kept: { a: 'partially-selected' } });
  });

  it('repositories match the listed, normalized and Podman-qualified forms alike', () => {
    const images = [
      img('a', { tags: ['nginx:1'] }),
      img('b', { tags: ['docker.io/library/nginx:2'] }),
      img('c', { tags: ['localhost/app:1'] }),
      img('d', { tags: ['ghcr.io/o/nginx:1'] }),
    ];
    for (const pattern of ['nginx', 'docker.io/library/nginx']) {
      expect(
        outcome(plan(`rules:\n  - name: r\n    match: { repositories: ["${pattern}"] }\n`, images)).deleted.sort(),
      ).toEqual(['a', 'b']);
    }
    expect(outcome(plan(`rules:\n  - name: r\n    match: { repositories: ["app"] }\n`, images)).deleted).toEqual(['c']);
    expect(outcome(plan(`rules:\n  - name: r\n    match: { references: ["nginx:1"] }\n`, images)).deleted).toEqual([
      'a',
    ]);
  });

  it('`*` stays in one path segment, `**` crosses /', () => {
    const images = [
      img('a', { tags: ['registry.acme.io/ci/app:1'] }),
      img('b', { tags: ['registry.acme.io/ci/team/app:1'] }),
    ];
    expect(
      outcome(plan(`rules:\n  - name: r\n    match: { repositories: ["registry.acme.io/ci/*"] }\n`, images)).deleted,
    ).toEqual(['a']);
    expect(
      outcome(
        plan(`rules:\n  - name: r\n    match: { repositories: ["registry.acme.io/ci/**"] }\n`, images),
      ).deleted.sort(),
    ).toEqual(['a', 'b']);
  });

  it('the first rule in file order that selects a reference is its reason', () => {
    const p = plan(
      `rules:\n  - name: first\n    match: { tags: ["1"] }\n  - name: second\n    match: { repositories: ["**"] }\n`,
      [img('a', { tags: ['a:1'] })],
    );
    expect(p.actions[0]!.rule).toBe('first');
  });

  it('match fields are ANDed, list items ORed, exclude removes matches', () => {
    const images = [
      img('a', { tags: ['ci/app:pr-1'] }),
      img('b', { tags: ['ci/app:pr-2-pinned'] }),
      img('c', { tags: ['other:pr-3'] }),
      img('d', { tags: ['ci/app:sha-1'] }),
    ];
    const o = outcome(
      plan(
        `rules:\n  - name: r\n    match:\n      repositories: ["ci/**"]\n      tags: ["pr-*", "sha-*"]\n      exclude: { tags: ["*-pinned"] }\n`,
        images,
      ),
    );
    expect(o.deleted.sort()).toEqual(['a', 'd']);
  });

  it('labels match by key or key=value, images by ID prefix', () => {
    const images = [
      img('a', { tags: ['a:1'], labels: { team: 'x' } }),
      img('b', { tags: ['b:1'], labels: { team: 'y' } }),
      img('c', { tags: ['c:1'] }),
    ];
    expect(outcome(plan(`rules:\n  - name: r\n    match: { labels: ["team=x"] }\n`, images)).deleted).toEqual(['a']);
    expect(outcome(plan(`rules:\n  - name: r\n    match: { labels: ["team"] }\n`, images)).deleted.sort()).toEqual([
      'a',
      'b',
    ]);
    expect(
      outcome(plan(`rules:\n  - name: r\n    match: { images: ["${idOf('c').slice(7, 19)}"] }\n`, images)).deleted,
    ).toEqual(['c']);
  });
});

describe('conditions', () => {
  it('olderThan compares creation time, unusedFor the last use', () => {
    const images = [img('old', { tags: ['a:old'], age: '10d' }), img('new', { tags: ['a:new'], age: '1d' })];
    expect(
      outcome(plan(`rules:\n  - name: r\n    match: { repositories: [a] }\n    olderThan: 3d\n`, images)).deleted,
    ).toEqual(['old']);
    const containers = [container('c1', 'old', 'exited', { finished: '1h' })];
    const o = outcome(
      plan(
        `containers: { stopped: remove, stoppedFor: 30m }\nrules:\n  - name: r\n    match: { repositories: [a] }\n    unusedFor: 3h\n`,
        images,
        containers,
      ),
    );
    expect(o.deleted).toEqual(['new']);
  });

  it('keep.newest spares the N newest per repository, counted before age conditions', () => {
    const images = [
      img('a1', { tags: ['a:1'], age: '10d' }),
      img('a2', { tags: ['a:2'], age: '9d' }),
      img('a3', { tags: ['a:3'], age: '8d' }),
      img('a4', { tags: ['a:4'], age: '1h' }),
      img('b1', { tags: ['b:1'], age: '10d' }),
    ];
    const o = outcome(
      plan(`rules:\n  - name: r\n    match: { tags: ["*"] }\n    olderThan: 1d\n    keep: { newest: 2 }\n`, images),
    );
    // a4 (too young) and a3 are the two newest of a; b1 is the newest of b.
    expect(o.deleted.sort()).toEqual(['a1', 'a2']);
    expect(o.kept).toMatchObject({ a3: 'keep-newest', a4: 'keep-newest', b1: 'keep-newest' });
  });

  it('keep.newest by lastUsed ranks by last use', () => {
    const images = [img('a1', { tags: ['a:1'], age: '10d' }), img('a2', { tags: ['a:2'], age: '9d' })];
    const containers = [container('c', 'a1', 'exited', { finished: '2h' })];
    const o = outcome(
      plan(
        `containers: { stopped: remove, stoppedFor: 1h }\nrules:\n  - name: r\n    match: { tags: ["*"] }\n    keep: { newest: 1, by: lastUsed }\n`,
        images,
        containers,
      ),
    );
    expect(o.deleted).toEqual(['a2']);
  });

  it('nginx and docker.io/library/nginx are one repository for keep.newest', () => {
    const images = [
      img('a', { tags: ['nginx:1'], age: '3d' }),
      img('b', { tags: ['docker.io/library/nginx:2'], age: '2d' }),
    ];
    expect(
      outcome(plan(`rules:\n  - name: r\n    match: { repositories: [nginx] }\n    keep: { newest: 1 }\n`, images))
        .deleted,
    ).toEqual(['a']);
  });

  it('action untag removes matched references but never the last one', () => {
    const images = [img('a', { tags: ['a:1', 'a:2'] }), img('b', { tags: ['b:1', 'b:keep'] })];
    const o = outcome(plan(`rules:\n  - name: u\n    action: untag\n    match: { tags: ["1", "2"] }\n`, images));
    expect(o.deleted).toEqual([]);
    expect(o.untagged.sort()).toEqual(['a:2', 'b:1']);
    expect(o.kept).toMatchObject({ a: 'untag-only', b: 'partially-selected' });
  });
});

describe('protection', () => {
  it('protection by tag keeps that reference; other selected references are still untagged', () => {
    const o = outcome(plan(`protect: { tags: [latest] }\n${ALL}`, [img('a', { tags: ['a:1', 'a:latest'] })]));
    expect(o).toMatchObject({ deleted: [], untagged: ['a:1'], kept: { a: 'protected-reference' } });
  });

  it('protection by label, ID or age makes the whole image immune', () => {
    const images = [
      img('l', { tags: ['l:1'], labels: { keep: 'yes' } }),
      img('i', { tags: ['i:1'] }),
      img('y', { tags: ['y:1'], age: '10m' }),
    ];
    const o = outcome(
      plan(
        `protect: { labels: [keep], images: ["sha256:${idOf('i').slice(7, 20)}"], youngerThan: 1h }\n${ALL}`,
        images,
      ),
    );
    expect(o).toEqual({
      deleted: [],
      untagged: [],
      removed: [],
      kept: { l: 'protected-label', i: 'protected-id', y: 'protected-age' },
    });
  });

  it('youngerThan also counts from first-seen time', () => {
    const inv = inventory([img('a', { tags: ['a:1'], age: '30d' })]);
    inv.usage[idOf('a')] = { firstSeen: ago('10m'), lastUsed: ago('10m') };
    const p = makePlan({
      policy: policy(`version: 1\nprotect: { youngerThan: 1h }\n${ALL}`),
      inventory: inv,
      now: NOW,
    });
    expect(outcome(p).kept).toEqual({ a: 'protected-age' });
  });

  it('a running (or paused, restarting) container makes its image untouchable', () => {
    for (const state of ['running', 'paused', 'restarting'] as const) {
      const o = outcome(
        plan(
          `containers: { stopped: remove }\n${ALL}`,
          [img('a', { tags: ['a:1', 'a:2'] })],
          [container('c', 'a', state)],
        ),
      );
      expect(o).toEqual({ deleted: [], untagged: [], removed: [], kept: { a: 'in-use' } });
    }
  });

  it('image-type mounts count as use', () => {
    const c = { ...container('c', 'other', 'running'), mountImageIds: [idOf('a')] };
    expect(outcome(plan(ALL, [img('a', { tags: ['a:1'] }), img('other', { tags: ['o:1'] })], [c])).kept).toMatchObject({
      a: 'in-use',
    });
  });
});

describe('stopped containers', () => {
  const images = () => [img('a', { tags: ['a:1'] })];

  it('protect (default): an image used by a stopped container stays', () => {
    expect(outcome(plan(ALL, images(), [container('c', 'a', 'exited')]))).toMatchObject({
      deleted: [],
      kept: { a: 'in-use-stopped' },
    });
  });

  it('remove: the stopped container goes first, then the image', () => {
    const p = plan(`containers: { stopped: remove, stoppedFor: 1h }\n${ALL}`, images(), [
      container('c', 'a', 'exited', { finished: '2h' }),
    ]);
    expect(p.actions.map((a) => a.type)).toEqual(['remove-container', 'delete']);
  });

  it('remove respects stoppedFor; a container that never ran counts from creation', () => {
    const recent = outcome(
      plan(`containers: { stopped: remove, stoppedFor: 24h }\n${ALL}`, images(), [
        container('c', 'a', 'exited', { finished: '2h' }),
      ]),
    );
    expect(recent.kept).toEqual({ a: 'in-use-stopped' });
    const neverRan = container('c', 'a', 'created', { created: ago('2d') });
    expect(
      outcome(plan(`containers: { stopped: remove, stoppedFor: 24h }\n${ALL}`, images(), [neverRan])).deleted,
    ).toEqual(['a']);
    const neverRanNew = container('c', 'a', 'created', { created: ago('2h') });
    expect(
      outcome(plan(`containers: { stopped: remove, stoppedFor: 24h }\n${ALL}`, images(), [neverRanNew])).deleted,
    ).toEqual([]);
  });

  it('unused counts images whose only containers may be removed', () => {
    const imgs = [img('a', { tags: ['a:1'] }), img('b', { tags: ['b:1'] })];
    const cs = [container('ca', 'a', 'exited', { finished: '2d' }), container('cb', 'b', 'exited', { finished: '2d' })];
    expect(outcome(plan(`rules:\n  - name: u\n    match: { unused: true }\n`, imgs, cs)).deleted).toEqual([]);
    expect(
      outcome(
        plan(`containers: { stopped: remove }\nrules:\n  - name: u\n    match: { unused: true }\n`, imgs, cs),
      ).deleted.sort(),
    ).toEqual(['a', 'b']);
  });

  it('containers of an image that stays are not removed', () => {
    const o = outcome(
      plan(
        `containers: { stopped: remove }\nprotect: { tags: [keep] }\n${ALL}`,
        [img('a', { tags: ['a:1', 'a:keep'] })],
        [container('c', 'a', 'exited', { finished: '2d' })],
      ),
    );
    expect(o.removed).toEqual([]);
  });
});

describe('parents and children', () => {
  it('an untagged parent with a tagged child that stays is kept', () => {
    const o = outcome(
      plan(`rules:\n  - name: d\n    match: { untagged: true }\n`, [
        img('p'),
        img('c', { tags: ['c:1'], parent: 'p' }),
      ]),
    );
    expect(o).toMatchObject({ deleted: [], kept: { p: 'parent-of-kept', c: 'not-selected' } });
  });

  it('children are deleted before parents, the whole chain when nothing needs it', () => {
    const p = plan(ALL, [img('g'), img('p', { parent: 'g' }), img('c', { tags: ['c:1'], parent: 'p' })]);
    expect(outcome(p).deleted).toEqual(['c', 'p', 'g']);
    expect(p.actions.find((a) => a.imageId === idOf('c'))!.parentId).toBe(idOf('p'));
  });

  it('a kept grandchild keeps the whole chain above it', () => {
    const o = outcome(
      plan(`protect: { tags: [keep] }\n${ALL}`, [
        img('g'),
        img('p', { parent: 'g', tags: ['p:1'] }),
        img('c', { tags: ['c:keep'], parent: 'p' }),
      ]),
    );
    expect(o.kept).toEqual({ g: 'parent-of-kept', p: 'parent-of-kept', c: 'protected-reference' });
    expect(o.untagged).toEqual([]);
  });

  it('a parent kept for its child still loses its selected tags, but never its last one', () => {
    const o = outcome(
      plan(`protect: { tags: [keep] }\n${ALL}`, [
        img('p', { tags: ['p:1', 'p:2'] }),
        img('c', { tags: ['c:keep'], parent: 'p' }),
      ]),
    );
    expect(o.untagged).toEqual(['p:2']);
    expect(o.kept.p).toBe('parent-of-kept');
  });
});

describe('limits and plan shape', () => {
  const many = () => Array.from({ length: 10 }, (_, i) => img(`i${i}`, { tags: [`r:${i}`] }));

  it('maxDeletions and maxDeletionsPercent mark the plan refused', () => {
    expect(plan(`limits: { maxDeletions: 5 }\n${ALL}`, many()).refused).toEqual({
      reason: 'max-deletions',
      deletes: 10,
      images: 10,
      limit: 5,
    });
    expect(plan(`limits: { maxDeletionsPercent: 50 }\n${ALL}`, many()).refused).toEqual({
      reason: 'max-deletions-percent',
      deletes: 10,
      images: 10,
      limit: 50,
    });
    expect(plan(`limits: { maxDeletions: 10, maxDeletionsPercent: 100 }\n${ALL}`, many()).refused).toBeNull();
  });

  it('estimates bytes from the layers of parent chains', () => {
    const p = plan(ALL, [img('p', { size: 100 }), img('c', { tags: ['c:1'], parent: 'p', size: 150 })]);
    expect(p.summary).toMatchObject({ bytes: 150, deletes: 2, estimate: 'layers' });
    expect(p.actions.find((a) => a.imageId === idOf('c'))!.bytes).toBe(50);
  });

  it('counts a shared layer only when every image using it goes (layers known)', () => {
    const base = { digest: 'sha256:base', size: 1000 };
    const images = [
      img('a', { tags: ['a:1'], layers: [base, { digest: 'sha256:a', size: 10 }] }),
      img('b', { tags: ['b:keep'], layers: [base, { digest: 'sha256:b', size: 20 }] }),
    ];
    expect(plan(`protect: { tags: [keep] }\n${ALL}`, images).summary).toMatchObject({ bytes: 10, estimate: 'layers' });
    expect(plan(ALL, images).summary).toMatchObject({ bytes: 1030, estimate: 'layers' });
  });

  it('shares a layer only with the same layers under it, as engines store them (chain IDs)', () => {
    // The same diff (e.g. one COPY) on two different bases is two layers on disk.
    const copy = { digest: 'sha256:copy', size: 300 };
    const images = [
      img('a', { tags: ['a:1'], layers: [{ digest: 'sha256:base1', size: 1000 }, copy] }),
      img('b', { tags: ['b:keep'], layers: [{ digest: 'sha256:base2', size: 2000 }, copy] }),
      img('c', {
        tags: ['c:go'],
        layers: [{ digest: 'sha256:base2', size: 2000 }, copy, { digest: 'sha256:c', size: 5 }],
      }),
    ];
    // a goes alone: its copy is not b's or c's.
    expect(plan(`protect: { tags: [keep, go] }\n${ALL}`, images).summary).toMatchObject({
      bytes: 1300,
      deletes: 1,
      estimate: 'layers',
    });
    // c goes alone: the two layers under its own are b's too.
    expect(plan(`protect: { tags: [keep, '1'] }\n${ALL}`, images).summary).toMatchObject({
      bytes: 5,
      deletes: 1,
      estimate: 'layers',
    });
    // b and c go: their shared stack once, c's own layer; a's layers stay.
    expect(plan(`protect: { tags: ['1'] }\n${ALL}`, images).summary).toMatchObject({
      bytes: 2305,
      deletes: 2,
      estimate: 'layers',
    });
    // A diff twice in one image (two positions) is two layers, both freed with it.
    const twice = [
      img('d', {
        tags: ['d:1'],
        layers: [
          { digest: 'sha256:x', size: 7 },
          { digest: 'sha256:x', size: 7 },
        ],
      }),
    ];
    expect(plan(ALL, twice).summary).toMatchObject({ bytes: 14, estimate: 'layers' });
  });

  it('a policy without rules plans nothing', () => {
    expect(plan('', many()).actions).toEqual([]);
  });
});

describe('disk watermarks', () => {
  const imgs = () => [
    img('old', { tags: ['a:1'], size: 400, created: ago('30d') }),
    img('mid', { tags: ['a:2'], size: 300, created: ago('20d') }),
    img('new', { tags: ['a:3'], size: 200, created: ago('10d') }),
    img('prot', { tags: ['a:latest'], size: 100, created: ago('40d') }),
  ];

  it('evicts least recently used unprotected images until under the target', () => {
    const p = plan(`protect: { tags: [latest] }\ndisk: { maxImageBytes: 900B, targetImageBytes: 600B }\n`, imgs());
    // 1000 B in all: evicting old (400 B) reaches 600 B.
    expect(outcome(p).deleted).toEqual(['old']);
    expect(p.actions.every((a) => a.rule === 'disk')).toBe(true);
    expect(p.disk).toEqual({
      status: 'over-limit',
      goals: [{ measure: 'image-bytes', before: 1000, limit: 900, target: 600, over: true }],
      usageUnmeasured: false,
      evicted: 1,
      evictedBytes: 400,
      targetReached: true,
      cause: null,
    });
    const further = plan(
      `protect: { tags: [latest] }\ndisk: { maxImageBytes: 900B, targetImageBytes: 500B }\n`,
      imgs(),
    );
    expect(outcome(further).deleted.sort()).toEqual(['mid', 'old']);
  });

  it('under the limit evicts nothing', () => {
    const p = plan(`disk: { maxImageBytes: 2kB }\n`, imgs());
    expect(p.actions).toEqual([]);
    expect(p.disk).toMatchObject({
      status: 'under-limit',
      goals: [{ measure: 'image-bytes', before: 1000, limit: 2000, over: false }],
      evicted: 0,
    });
  });

  it('maxUsage uses the measured filesystem and says so when it cannot', () => {
    const inv = inventory(layered(imgs()), [], {
      disk: { totalBytes: 10_000, usedBytes: 9_500, path: '/var/lib/docker' },
    });
    const p = makePlan({
      policy: policy('version: 1\ndisk: { maxUsage: 90%, targetUsage: 89% }\n'),
      inventory: inv,
      now: NOW,
    });
    // 95% used; 89% means freeing 600 B: prot (oldest, 100), old (400), mid (300).
    expect(outcome(p).deleted.sort()).toEqual(['mid', 'old', 'prot']);
    expect(p.disk).toMatchObject({
      status: 'over-limit',
      goals: [{ measure: 'usage', before: 0.95, limit: 0.9, target: 0.89, over: true }],
      evicted: 3,
    });
    const noDisk = makePlan({
      policy: policy('version: 1\ndisk: { maxUsage: 90% }\n'),
      inventory: inventory(layered(imgs())),
      now: NOW,
    });
    expect(noDisk.actions).toEqual([]);
    expect(noDisk.disk).toMatchObject({ status: 'not-evaluated', goals: [], usageUnmeasured: true });
  });

  it("maxUsage is df's Use%: used / (used + available), root's reserve left out", () => {
    // 10,000 B filesystem, 8,000 used, 1,500 available (500 reserved): df says 84.2%, not 80%.
    const inv = inventory(layered(imgs()), [], {
      disk: { totalBytes: 10_000, usedBytes: 8_000, availableBytes: 1_500, path: '/var/lib/docker' },
    });
    const p = makePlan({ policy: policy('version: 1\ndisk: { maxUsage: 82% }\n'), inventory: inv, now: NOW });
    expect(p.disk!.goals[0]).toMatchObject({ measure: 'usage', over: true });
    expect(p.disk!.goals[0]!.before).toBeCloseTo(8_000 / 9_500, 6);
    expect(p.disk!.goals[0]!.filesystem).toEqual({
      path: '/var/lib/docker',
      usedBytes: 8_000,
      availableBytes: 1_500,
      totalBytes: 10_000,
    });
    expect(p.disk!.status).toBe('over-limit');
    expect(formatInventoryText(inv)).toMatch(
      /; \/var\/lib\/docker: 84\.2% used, as df counts it \(8\.0 kB used, 1\.5 kB available, of 10\.0 kB\)\n$/,
    );
    expect(diskText(p.disk!)).toMatch(
      /^disk \/var\/lib\/docker \(8\.0 kB used, 1\.5 kB available: df's Use%\) 84\.2% > 82%/,
    );
  });

  it('ties: oldest created first, children before parents; a parent waits for its children', () => {
    const images = [
      img('p', { size: 100, created: ago('50d') }),
      img('c', { tags: ['c:1'], parent: 'p', size: 150, created: ago('40d') }),
    ];
    const p = plan('disk: { maxImageBytes: 10B, targetImageBytes: 10B }\n', images);
    expect(outcome(p).deleted).toEqual(['c', 'p']);
  });
});

describe('determinism', () => {
  it('the same inputs give byte-identical JSON', () => {
    const images = [img('a', { tags: ['a:1', 'b:2'] }), img('p'), img('c', { parent: 'p', tags: ['c:1'] })];
    const a = JSON.stringify(plan(ALL, images));
    const b = JSON.stringify(plan(ALL, [...images].reverse()));
    expect(a).toBe(b);
  });
});
