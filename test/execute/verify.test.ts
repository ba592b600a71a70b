import { describe, expect, it } from 'vitest';
import type { StepReason } from '../../src/execute/reasons.js';
import { verifyPlan, type LiveState } from '../../src/execute/verify.js';
import type { ContainerRecord, ImageRecord } from '../../src/inventory/types.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Plan, PlanAction } from '../../src/plan/types.js';
import { container, idOf, image, inventory, NOW, policy } from '../support/builders.js';

/** A time after planning: containers created or started then are new since the plan. */
const AFTER = new Date(NOW + 60_000).toISOString();

/**
 * A plan made from a plain inventory, then the engine changes before apply: verifyPlan must drop exactly
 * the steps whose facts changed, and say whether each dropped step's goal already holds (`clear`).
 */

const DIGEST = `app@sha256:${'a'.repeat(64)}`;
const NAMES = ['old', 'parent', 'child', 'svc', 'keep', 'x', 'y'];
const nameOf = new Map(NAMES.map((n) => [idOf(n), n]));

function baseImages(): ImageRecord[] {
  return [
    image('old', { tags: ['app:1', 'app:2'], digests: [DIGEST] }), // untag app:2, delete with app:1 + digest
    image('parent', { tags: ['base:1'] }),
    image('child', { tags: ['base:child'], parent: 'parent' }), // child deleted before parent
    image('svc', { tags: ['svc:1'] }), // its stopped container c1 is removed first
    image('keep', { tags: ['keep:1'] }), // not selected: stays
  ];
}
const baseContainers = (): ContainerRecord[] => [container('c1', 'svc', 'exited')];

const POLICY = policy(`version: 1
containers: { stopped: remove, stoppedFor: 1h }
rules:
  - name: all
    match: { repositories: [app, base, svc, mx, my] }
`);

function planFor(images: ImageRecord[], containers: ContainerRecord[]): Plan {
  return makePlan({ policy: POLICY, inventory: inventory(images, containers), now: NOW });
}

/** "untag old app:2", "delete child", "remove-container c1 (svc)". */
function label(a: PlanAction): string {
  const img = nameOf.get(a.imageId) ?? a.imageId;
  if (a.type === 'untag') return `untag ${img} ${a.ref}`;
  if (a.type === 'remove-container')
    return `remove-container ${a.containerId === idOf('container:c1').slice(7) ? 'c1' : a.containerId} (${img})`;
  return `delete ${img}`;
}

function verdicts(plan: Plan, live: LiveState): Record<string, { reason: StepReason; clear: boolean }> {
  const out: Record<string, { reason: StepReason; clear: boolean }> = {};
  for (const [i, s] of verifyPlan(plan, live)) out[label(plan.actions[i]!)] = s;
  return out;
}

const img = (live: LiveState, name: string) => live.images.find((i) => i.id === idOf(name))!;

describe('the base plan', () => {
  it('has the steps the table below refers to', () => {
    const plan = planFor(baseImages(), baseContainers());
    expect(plan.actions.map(label)).toEqual([
      'remove-container c1 (svc)',
      'untag old app:2',
      'delete child',
      'delete svc',
      'delete old',
      'delete parent',
    ]);
    expect(plan.actions.find((a) => a.type === 'delete' && a.imageId === idOf('old'))!.refs).toEqual(['app:1', DIGEST]);
  });
});

interface Row {
  change: string;
  mutate: (live: LiveState) => void;
  stale: Record<string, { reason: StepReason; clear: boolean }>;
}

const ROWS: Row[] = [
  { change: 'nothing changed', mutate: () => {}, stale: {} },
  {
    change: 'a new container for a kept image',
    mutate: (l) => l.containers.push(container('k', 'keep', 'running')),
    stale: {},
  },
  {
    change: 'the untagged tag moved to another image',
    mutate: (l) => {
      img(l, 'old').repoTags = ['app:1'];
      img(l, 'keep').repoTags.push('app:2');
    },
    stale: { 'untag old app:2': { reason: { code: 'reference-moved', imageId: idOf('keep') }, clear: true } },
  },
  {
    change: 'the untagged tag is gone',
    mutate: (l) => {
      img(l, 'old').repoTags = ['app:1'];
    },
    stale: { 'untag old app:2': { reason: { code: 'reference-gone' }, clear: true } },
  },
  {
    change: 'the reference the delete carries is gone (fewer references is still safe)',
    mutate: (l) => {
      img(l, 'old').repoDigests = [];
    },
    stale: {},
  },
  {
    change: 'a planned image is gone',
    mutate: (l) => {
      l.images = l.images.filter((i) => i.id !== idOf('old'));
    },
    stale: {
      'untag old app:2': { reason: { code: 'reference-gone' }, clear: true },
      'delete old': { reason: { code: 'image-gone' }, clear: true },
    },
  },
  {
    change: 'a new running container uses a planned image',
    mutate: (l) => l.containers.push(container('web', 'old', 'running')),
    stale: {
      'untag old app:2': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:web').slice(7), name: 'web', state: 'running' },
        },
        clear: false,
      },
      'delete old': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:web').slice(7), name: 'web', state: 'running' },
        },
        clear: false,
      },
    },
  },
  {
    change: 'a new stopped container uses a planned image',
    mutate: (l) =>
      l.containers.push(container('job', 'old', 'exited', { created: AFTER, startedAt: AFTER, finishedAt: AFTER })),
    stale: {
      'untag old app:2': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:job').slice(7), name: 'job', state: 'exited' },
        },
        clear: false,
      },
      'delete old': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:job').slice(7), name: 'job', state: 'exited' },
        },
        clear: false,
      },
    },
  },
  {
    change: 'a new created (never started) container uses a planned image',
    mutate: (l) => l.containers.push(container('fresh', 'child', 'created', { created: AFTER })),
    stale: {
      'delete child': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:fresh').slice(7), name: 'fresh', state: 'created' },
        },
        clear: false,
      },
    },
  },
  {
    change: 'a new container mounts a planned image',
    mutate: (l) => l.containers.push(container('m', 'keep', 'running', { mountImageIds: [idOf('old')] })),
    stale: {
      'untag old app:2': {
        reason: { code: 'image-in-use', container: { id: idOf('container:m').slice(7), name: 'm', state: 'running' } },
        clear: false,
      },
      'delete old': {
        reason: { code: 'image-in-use', container: { id: idOf('container:m').slice(7), name: 'm', state: 'running' } },
        clear: false,
      },
    },
  },
  {
    change: 'the container planned for removal is running now',
    mutate: (l) => {
      l.containers[0]!.state = 'running';
    },
    stale: {
      'remove-container c1 (svc)': { reason: { code: 'container-running', state: 'running' }, clear: false },
      'delete svc': {
        reason: {
          code: 'image-in-use',
          container: { id: idOf('container:c1').slice(7), name: 'c1', state: 'running' },
        },
        clear: false,
      },
    },
  },
  {
    change: 'the container planned for removal is paused now',
    mutate: (l) => {
      l.containers[0]!.state = 'paused';
    },
    stale: {
      'remove-container c1 (svc)': { reason: { code: 'container-running', state: 'paused' }, clear: false },
      'delete svc': {
        reason: { code: 'image-in-use', container: { id: idOf('container:c1').slice(7), name: 'c1', state: 'paused' } },
        clear: false,
      },
    },
  },
  {
    change: 'the container planned for removal is gone',
    mutate: (l) => {
      l.containers = [];
    },
    stale: { 'remove-container c1 (svc)': { reason: { code: 'container-gone' }, clear: true } },
  },
  {
    change: 'a new tag on an image planned for deletion',
    mutate: (l) => img(l, 'old').repoTags.push('app:3'),
    stale: { 'delete old': { reason: { code: 'unplanned-references', refs: ['app:3'] }, clear: false } },
  },
  {
    change: 'a new digest in another repository on an image planned for deletion',
    mutate: (l) => img(l, 'parent').repoDigests.push(`elsewhere@sha256:${'b'.repeat(64)}`),
    stale: {
      'delete parent': {
        reason: { code: 'unplanned-references', refs: [`elsewhere@sha256:${'b'.repeat(64)}`] },
        clear: false,
      },
    },
  },
  {
    change: 'a tag moved onto an image planned for deletion',
    mutate: (l) => {
      img(l, 'keep').repoTags = [];
      img(l, 'svc').repoTags.push('keep:1');
    },
    stale: { 'delete svc': { reason: { code: 'unplanned-references', refs: ['keep:1'] }, clear: false } },
  },
  {
    change: 'a new child image depends on a planned parent',
    mutate: (l) => l.images.push(image('grandchild', { tags: ['base:gc'], parent: 'child' })),
    stale: { 'delete child': { reason: { code: 'new-child', child: idOf('grandchild') }, clear: false } },
  },
  {
    change: 'a new untagged child image depends on a planned parent',
    mutate: (l) => l.images.push(image('layer', { parent: 'parent' })),
    stale: { 'delete parent': { reason: { code: 'new-child', child: idOf('layer') }, clear: false } },
  },
];

describe('verifyPlan: the engine changed after planning', () => {
  it.each(ROWS)('$change', ({ mutate, stale }) => {
    const plan = planFor(baseImages(), baseContainers());
    const live: LiveState = { images: baseImages(), containers: baseContainers() };
    mutate(live);
    const got = verdicts(plan, live);
    expect(Object.keys(got).sort()).toEqual(Object.keys(stale).sort());
    for (const [step, want] of Object.entries(stale)) {
      expect(got[step]!.reason, step).toEqual(want.reason);
      expect(got[step]!.clear, step).toBe(want.clear);
    }
  });

  it('is pure: the plan and the live state are left as they were', () => {
    const plan = planFor(baseImages(), baseContainers());
    const live: LiveState = {
      images: baseImages(),
      containers: [...baseContainers(), container('web', 'old', 'running')],
    };
    const before = structuredClone({ plan, live });
    verifyPlan(plan, live);
    expect({ plan, live }).toEqual(before);
  });

  it('an empty plan has nothing stale', () => {
    const plan = planFor([image('keep', { tags: ['keep:1'] })], []);
    expect(plan.actions).toEqual([]);
    expect(verifyPlan(plan, { images: [], containers: [] }).size).toBe(0);
  });

  // A stopped container that uses one image and mounts another (image-type mount), both planned for
  // deletion: the plan lists its removal once, under one of the two images (whichever sorts first).
  // Nothing changed, so nothing may be stale; both ways round.
  it.each([
    ['x', 'y'],
    ['y', 'x'],
  ])('unchanged state, with a planned container that uses image %s and mounts image %s', (used, mounted) => {
    const images = [image('x', { tags: ['mx:1'] }), image('y', { tags: ['my:1'] })];
    const containers = [container('cm', used, 'exited', { mountImageIds: [idOf(mounted)] })];
    const plan = planFor(images, containers);
    expect(plan.actions.map((a) => a.type).sort()).toEqual(['delete', 'delete', 'remove-container']);
    expect(verdicts(plan, { images, containers })).toEqual({});
  });

  // containers.stopped: remove with a protected tag: the image stays (its protected tag stays), its other
  // tag is untagged, and its long-stopped container is neither a reason to keep it nor removed. Nothing
  // changed after planning, so the untag must not be dropped ("drop any step whose facts changed").
  it('unchanged state: an untag on an image that a long-stopped container (there at planning) uses', () => {
    const images = [image('web', { tags: ['web:stable', 'web:pr-7'] })];
    const containers = [container('old-job', 'web', 'exited', { finished: '3d' })];
    const plan = makePlan({
      policy: policy(
        `version: 1\nprotect: { tags: [stable] }\ncontainers: { stopped: remove, stoppedFor: 1h }\nrules:\n  - name: prs\n    match: { tags: ["pr-*"] }\n`,
      ),
      inventory: inventory(images, containers),
      now: NOW,
    });
    expect(plan.actions).toMatchObject([{ type: 'untag', ref: 'web:pr-7' }]);
    expect(verdicts(plan, { images, containers })).toEqual({});
  });

  // An image pulled from a registry (tag + digest) and also tagged locally: the plan untags the registry
  // tag by name (the engine then drops that repository's digest with it) and deletes by ID with the local
  // tag. The digest is named nowhere in the plan, yet it is part of the plan's intent: not a new reference.
  it("unchanged state: a digest that goes away with its repository's untagged tag", () => {
    const digest = `registry.acme.io/ci/app@sha256:${'d'.repeat(64)}`;
    const images = [image('pulled', { tags: ['registry.acme.io/ci/app:sha-1', 'app:local'], digests: [digest] })];
    const plan = makePlan({
      policy: policy(`version: 1\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n`),
      inventory: inventory(images, []),
      now: NOW,
    });
    expect(plan.actions).toMatchObject([
      { type: 'untag', ref: 'registry.acme.io/ci/app:sha-1' },
      { type: 'delete', refs: ['app:local'] },
    ]);
    expect(verdicts(plan, { images, containers: [] })).toEqual({});
  });
});
