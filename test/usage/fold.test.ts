/** foldUsage and snapshotUsage with plain data: what each run folds into the last-used record . */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/engine.js';
import type { UsageEntry } from '../../src/inventory/types.js';
import { foldUsage, snapshotUsage, type UsageMap } from '../../src/usage/fold.js';
import { ago, container, idOf, image, inventory, NOW } from '../support/builders.js';

const NOW_ISO = new Date(NOW).toISOString();

const entry = (firstSeen: string, lastUsed: string, source = 'earlier run'): UsageEntry => ({
  firstSeen,
  lastUsed,
  source,
});

function event(action: string, time: string, opts: Partial<EngineEvent> = {}): EngineEvent {
  return { time, action, containerId: idOf('container:gone').slice(7), imageId: null, image: '', ...opts };
}

describe('foldUsage: images', () => {
  it('an image never seen before counts as first seen and used now, however old it is', () => {
    const inv = inventory([image('old', { age: '400d', tags: ['app:1'] }), image('new', { age: '1m' })]);
    const next = foldUsage({}, inv, [], NOW);
    expect(next).toEqual({
      [idOf('old')]: { firstSeen: NOW_ISO, lastUsed: NOW_ISO, source: expect.stringContaining('first seen') },
      [idOf('new')]: { firstSeen: NOW_ISO, lastUsed: NOW_ISO, source: expect.stringContaining('first seen') },
    });
  });

  it('keeps first-seen and last-used of known images when nothing used them', () => {
    const previous: UsageMap = { [idOf('a')]: entry(ago('30d'), ago('5d'), 'container x (exited)') };
    const next = foldUsage(previous, inventory([image('a')]), [], NOW);
    expect(next).toEqual(previous);
  });

  it('drops entries of images that no longer exist', () => {
    const previous: UsageMap = {
      [idOf('a')]: entry(ago('30d'), ago('5d')),
      [idOf('gone')]: entry(ago('30d'), ago('1d')),
    };
    const next = foldUsage(previous, inventory([image('a'), image('b')]), [], NOW);
    expect(Object.keys(next).sort()).toEqual([idOf('a'), idOf('b')].sort());
    expect(next[idOf('gone')]).toBeUndefined();
  });

  it('does not change the previous record it is given (pure)', () => {
    const previous: UsageMap = {
      [idOf('a')]: entry(ago('30d'), ago('5d')),
      [idOf('gone')]: entry(ago('30d'), ago('1d')),
    };
    const copy = structuredClone(previous);
    foldUsage(
      previous,
      inventory([image('a')], [container('run', 'a', 'running')]),
      [event('start', ago('1h'), { imageId: idOf('a') })],
      NOW,
    );
    expect(previous).toEqual(copy);
  });
});

describe('foldUsage: containers', () => {
  const previous: UsageMap = { [idOf('a')]: entry(ago('30d'), ago('25d')) };

  it.each(['running', 'paused', 'restarting'] as const)('a %s container marks its image used now', (state) => {
    const next = foldUsage(previous, inventory([image('a')], [container('web', 'a', state)]), [], NOW);
    expect(next[idOf('a')]).toMatchObject({ firstSeen: ago('30d'), lastUsed: NOW_ISO });
    expect(next[idOf('a')]!.source).toContain('web');
  });

  it.each(['exited', 'created', 'dead'] as const)(
    'a %s container (any container) marks its image used now',
    (state) => {
      const c = container('job', 'a', state, { created: ago('22d'), startedAt: ago('21d'), finishedAt: ago('3d') });
      const next = foldUsage(previous, inventory([image('a')], [c]), [], NOW);
      expect(next[idOf('a')]).toMatchObject({ firstSeen: ago('30d'), lastUsed: NOW_ISO });
      expect(next[idOf('a')]!.source).toContain('job');
    },
  );

  it('an image mounted into a container (image-type mount) counts as used too', () => {
    const c = container('mounter', 'b', 'running', { mountImageIds: [idOf('a')] });
    const next = foldUsage(previous, inventory([image('a'), image('b')], [c]), [], NOW);
    expect(next[idOf('a')]!.lastUsed).toBe(NOW_ISO);
  });

  it('never moves last-used backwards: an older event leaves a later last-used as it was', () => {
    const later: UsageMap = { [idOf('a')]: entry(ago('30d'), ago('1d'), 'event start of container abc') };
    expect(
      foldUsage(
        later,
        inventory([image('a')]),
        [event('start', ago('3d'), { imageId: idOf('a'), image: idOf('a') })],
        NOW,
      ),
    ).toEqual(later);
  });
});

describe('foldUsage: engine events', () => {
  const previous: UsageMap = { [idOf('a')]: entry(ago('30d'), ago('25d')), [idOf('b')]: entry(ago('30d'), ago('25d')) };
  const images = [image('a', { tags: ['registry.acme.io/ci/app:1', 'busybox:1'] }), image('b', { tags: ['app:2'] })];

  it('an event naming the image ID moves last-used to the event time', () => {
    const next = foldUsage(
      previous,
      inventory(images),
      [event('start', ago('2h'), { imageId: idOf('a'), image: idOf('a') })],
      NOW,
    );
    expect(next[idOf('a')]).toMatchObject({ firstSeen: ago('30d'), lastUsed: ago('2h') });
    expect(next[idOf('a')]!.source).toMatch(/event start/);
    expect(next[idOf('b')]!.lastUsed).toBe(ago('25d'));
  });

  it('an event naming a reference finds the image by tag, also in another spelling (docker run --rm, container gone)', () => {
    const events = [
      event('create', ago('3h'), { image: 'registry.acme.io/ci/app:1' }),
      event('die', ago('150m'), { image: 'docker.io/library/app:2' }),
    ];
    const next = foldUsage(previous, inventory(images), events, NOW);
    expect(next[idOf('a')]!.lastUsed).toBe(ago('3h'));
    expect(next[idOf('b')]!.lastUsed).toBe(ago('150m'));
  });

  it('an event naming a short image ID (docker run --rm 3e207b409db3) finds the image by its unique ID prefix', () => {
    const next = foldUsage(
      previous,
      inventory(images),
      [event('start', ago('1h'), { image: idOf('b').slice(7, 19) })],
      NOW,
    );
    expect(next[idOf('b')]!.lastUsed).toBe(ago('1h'));
    expect(next[idOf('a')]!.lastUsed).toBe(ago('25d'));
  });

  it("an event of a known container counts for the container's image, even if the name it was started by now points elsewhere", () => {
    const c = container('job', 'a', 'exited', { created: ago('20d'), startedAt: ago('20d'), finishedAt: ago('10d') });
    // The tag app:2 has moved to image b since the container was created from image a.
    const next = foldUsage(
      previous,
      inventory(images, [c]),
      [event('start', ago('1h'), { containerId: c.id, image: 'app:2' })],
      NOW,
    );
    // The container exists, so its image is used now anyway; what matters is that b gets nothing.
    expect(next[idOf('a')]!.lastUsed).toBe(NOW_ISO);
    expect(next[idOf('b')]!.lastUsed).toBe(ago('25d'));
  });

  it('exec events ("exec_start: sh") count as use; the latest of several events wins', () => {
    const events = [
      event('exec_start: /bin/sh -c true', ago('40m'), { imageId: idOf('a') }),
      event('start', ago('5h'), { imageId: idOf('a') }),
    ];
    expect(foldUsage(previous, inventory(images), events, NOW)[idOf('a')]!.lastUsed).toBe(ago('40m'));
  });

  it('removing a container (destroy) is not a use of its image', () => {
    expect(
      foldUsage(previous, inventory(images), [event('destroy', ago('1h'), { imageId: idOf('a') })], NOW)[idOf('a')]!
        .lastUsed,
    ).toBe(ago('25d'));
  });

  it('ignores events of images it does not have and references it cannot parse', () => {
    const events = [
      event('start', ago('1h'), { imageId: idOf('gone'), image: idOf('gone') }),
      event('start', ago('1h'), { image: 'unknown/repo:1' }),
      event('start', ago('1h'), { image: 'Not A Reference!!' }),
    ];
    const next = foldUsage(previous, inventory(images), events, NOW);
    expect(next).toEqual(previous);
    expect(next[idOf('gone')]).toBeUndefined();
  });

  it('never moves last-used backwards: an event older than last-used changes nothing', () => {
    const recent: UsageMap = { ...previous, [idOf('a')]: entry(ago('30d'), ago('10m'), 'container web is running') };
    const next = foldUsage(recent, inventory(images), [event('start', ago('2h'), { imageId: idOf('a') })], NOW);
    expect(next[idOf('a')]).toEqual(recent[idOf('a')]);
  });

  it('an event stamped after now (clock skew) counts as now, not in the future', () => {
    const next = foldUsage(
      previous,
      inventory(images),
      [event('start', new Date(NOW + 3_600_000).toISOString(), { imageId: idOf('a') })],
      NOW,
    );
    expect(next[idOf('a')]!.lastUsed).toBe(NOW_ISO);
  });

  it('a stopped container whose times are after now (clock skew, --now in the past) counts as now too, like an event', () => {
    // Otherwise a future last-used is recorded, and since last-used never goes back it sticks in the record.
    const future = new Date(NOW + 3_600_000).toISOString();
    const c = container('skewed', 'a', 'exited', { created: ago('1h'), startedAt: ago('1h'), finishedAt: future });
    expect(foldUsage(previous, inventory(images, [c]), [], NOW)[idOf('a')]!.lastUsed).toBe(NOW_ISO);
  });
});

describe('foldUsage: properties', () => {
  const IDS = ['a', 'b', 'c', 'd', 'e'];
  const time = fc.integer({ min: -60 * 86_400, max: 3600 }).map((s) => new Date(NOW + s * 1000).toISOString());
  const arb = fc.record({
    present: fc.subarray(IDS),
    previous: fc.dictionary(fc.constantFrom(...IDS), fc.tuple(time, time)),
    containers: fc.array(
      fc.record({
        image: fc.constantFrom(...IDS),
        state: fc.constantFrom('running', 'exited', 'created', 'dead' as const),
        t: time,
      }),
      { maxLength: 4 },
    ),
    events: fc.array(
      fc.record({
        image: fc.constantFrom(...IDS),
        action: fc.constantFrom('create', 'start', 'die', 'destroy', 'rename'),
        t: time,
      }),
      { maxLength: 6 },
    ),
  });

  it('keys are exactly the present images; first-seen of known images stays; last-used never goes back; folding twice is a no-op', () => {
    fc.assert(
      fc.property(arb, ({ present, previous, containers, events }) => {
        const prev: UsageMap = Object.fromEntries(
          Object.entries(previous).map(([n, [f, l]]) => [idOf(n), entry(f, l)]),
        );
        const inv = inventory(
          present.map((n) => image(n)),
          containers
            .filter((c) => present.includes(c.image))
            .map((c, i) => container(`c${i}`, c.image, c.state, { created: c.t, startedAt: c.t, finishedAt: c.t })),
        );
        const next = foldUsage(
          prev,
          inv,
          events.map((e) => event(e.action, e.t, { imageId: idOf(e.image) })),
          NOW,
        );
        expect(Object.keys(next).sort()).toEqual(present.map(idOf).sort());
        for (const n of present) {
          const id = idOf(n);
          const before = prev[id];
          const after = next[id]!;
          if (before) {
            expect(after.firstSeen).toBe(before.firstSeen);
            expect(Date.parse(after.lastUsed)).toBeGreaterThanOrEqual(Date.parse(before.lastUsed));
          } else expect(after.firstSeen).toBe(NOW_ISO);
        }
        // Folding the same observations again changes nothing.
        expect(
          foldUsage(
            next,
            inv,
            events.map((e) => event(e.action, e.t, { imageId: idOf(e.image) })),
            NOW,
          ),
        ).toEqual(next);
      }),
    );
  });
});

describe('snapshotUsage', () => {
  it('images without usage data count as first seen and used at capture time; recorded ones keep theirs', () => {
    const captured = ago('2h');
    const recorded = entry(ago('30d'), ago('3d'), 'container job (exited)');
    const inv = inventory([image('a'), image('b')], [], { capturedAt: captured, usage: { [idOf('a')]: recorded } });
    const usage = snapshotUsage(inv);
    expect(usage[idOf('a')]).toEqual(recorded);
    expect(usage[idOf('b')]).toMatchObject({ firstSeen: captured, lastUsed: captured });
    expect(usage[idOf('b')]!.source).toMatch(/capture/);
    expect(inv.usage).toEqual({ [idOf('a')]: recorded });
  });
});
