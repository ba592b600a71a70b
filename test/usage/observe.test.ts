/** The usage record as each plan/apply updates it (readObservation, recordUsage) and watchUsage (imgsweep watch) against a scripted in-memory engine. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine, EngineEvent } from '../../src/engine/engine.js';
import type { ContainerRecord, ImageRecord, Inventory } from '../../src/inventory/types.js';
import type { UsageMap } from '../../src/usage/fold.js';
import { readObservation, recordUsage } from '../../src/usage/observe.js';
import { saveUsage, usagePath, type UsageRecord } from '../../src/usage/store.js';
import { watchUsage } from '../../src/usage/watch.js';
import { ago, container, idOf, image, inventory, NOW } from '../support/builders.js';

const KEY = inventory([]).engine.key;

/** What a plan or apply does (cli/context.ts), end to end: read, fold, save. */
async function observeUsage(
  engine: Engine,
  inv: Inventory,
  stateDir: string,
  now: number,
  warn: (m: string) => void,
): Promise<UsageMap> {
  const { images, saved } = recordUsage(
    await readObservation(engine, inv.engine.key, stateDir, now, warn),
    inv,
    stateDir,
    now,
    warn,
  );
  await saved;
  return images;
}

/** Lets a test make the record's atomic write slow (a busy disk), to catch flushes that overlap. */
const slowWrites = vi.hoisted(() => ({ ms: 0 }));
vi.mock('../../src/atomic-write.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/atomic-write.js')>();
  return {
    ...real,
    writeFileAtomic: async (...args: Parameters<typeof real.writeFileAtomic>) => {
      if (slowWrites.ms > 0) await new Promise((r) => setTimeout(r, slowWrites.ms));
      return real.writeFileAtomic(...args);
    },
  };
});

/** Only what the usage code may call; any write throws (watch and observe never delete anything). */
class ScriptedEngine {
  readonly host = 'unix:///scripted.sock';
  images: ImageRecord[] = [];
  containers: ContainerRecord[] = [];
  eventLog: EngineEvent[] = [];
  eventsCalls: { since: number; until: number }[] = [];
  eventsFail: string | null = null;
  streams: { since: number; push: (e: EngineEvent) => void; end: () => void; fail: (message: string) => void }[] = [];
  down = false;
  writes: string[] = [];

  identity() {
    return Promise.resolve(inventory([]).engine);
  }
  attempts: number[] = [];
  listImages() {
    if (this.down) this.attempts.push(Date.now());
    return this.down ? Promise.reject(new Error('engine down')) : Promise.resolve(this.images);
  }
  listContainers() {
    return this.down ? Promise.reject(new Error('engine down')) : Promise.resolve(this.containers);
  }
  events(since: Date, until: Date) {
    this.eventsCalls.push({ since: since.getTime(), until: until.getTime() });
    if (this.eventsFail) return Promise.reject(new Error(this.eventsFail));
    return Promise.resolve(
      this.eventLog.filter((e) => Date.parse(e.time) >= since.getTime() && Date.parse(e.time) <= until.getTime()),
    );
  }
  streamEvents(since: Date, onEvent: (e: EngineEvent) => void, signal: AbortSignal) {
    if (this.down) return Promise.reject(new Error('engine down'));
    return new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      this.streams.push({ since: since.getTime(), push: onEvent, end: resolve, fail: (m) => reject(new Error(m)) });
    });
  }
  untag(ref: string) {
    this.writes.push(`untag ${ref}`);
    throw new Error('watch/observe must never untag');
  }
  deleteImage(id: string) {
    this.writes.push(`delete ${id}`);
    throw new Error('watch/observe must never delete');
  }
  removeContainer(id: string) {
    this.writes.push(`remove ${id}`);
    throw new Error('watch/observe must never remove a container');
  }
  close() {}
}

const asEngine = (e: ScriptedEngine) => e as unknown as Engine;
const until = async (check: () => boolean | Promise<boolean>, ms = 3_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
};

describe('observeUsage (every plan and apply on a live engine)', () => {
  let dir: string;
  let warnings: string[];
  const warn = (m: string) => warnings.push(m);
  const read = async () => JSON.parse(await readFile(usagePath(dir, KEY), 'utf8')) as UsageRecord;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-observe-'));
    warnings = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('folds containers and the events since the previous run, and saves the record with where events were read up to', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a', { tags: ['app:1'] }), image('b')];
    const inv = inventory(e.images, [container('job', 'b', 'exited', { finishedAt: ago('1h') })]);
    await saveUsage(dir, {
      kind: 'imgsweep-usage',
      version: 1,
      engine: KEY,
      updatedAt: ago('6h'),
      eventsUntil: ago('6h'),
      images: {
        [idOf('a')]: { firstSeen: ago('9d'), lastUsed: ago('9d') },
        [idOf('b')]: { firstSeen: ago('9d'), lastUsed: ago('9d') },
      },
    });
    e.eventLog = [{ time: ago('3h'), action: 'start', containerId: 'c'.repeat(64), imageId: null, image: 'app:1' }];
    const usage = await observeUsage(asEngine(e), inv, dir, NOW, warn);
    expect(warnings).toEqual([]);
    expect(e.eventsCalls).toEqual([{ since: Date.parse(ago('6h')), until: NOW }]);
    expect(usage[idOf('a')]!.lastUsed).toBe(ago('3h'));
    // Any existing container marks its image used now .
    expect(usage[idOf('b')]!.lastUsed).toBe(new Date(NOW).toISOString());
    const saved = await read();
    expect(saved).toMatchObject({ eventsUntil: new Date(NOW).toISOString(), updatedAt: new Date(NOW).toISOString() });
    expect(saved.images).toEqual(usage);
  });

  it('on a first run asks for the last day of events (the engine keeps only a short backlog anyway)', async () => {
    const e = new ScriptedEngine();
    await observeUsage(asEngine(e), inventory([image('a')]), dir, NOW, warn);
    expect(e.eventsCalls).toEqual([{ since: NOW - 86_400_000, until: NOW }]);
  });

  it('when the events cannot be read, warns, goes on with containers, and asks for the same window again next time', async () => {
    const e = new ScriptedEngine();
    await saveUsage(dir, {
      kind: 'imgsweep-usage',
      version: 1,
      engine: KEY,
      updatedAt: ago('6h'),
      eventsUntil: ago('6h'),
      images: {},
    });
    e.eventsFail = 'connection reset';
    const usage = await observeUsage(
      asEngine(e),
      inventory([image('a')], [container('web', 'a', 'running')]),
      dir,
      NOW,
      warn,
    );
    expect(usage[idOf('a')]!.lastUsed).toBe(new Date(NOW).toISOString());
    expect(warnings).toEqual([expect.stringMatching(/cannot read the engine's events \(connection reset\)/)]);
    // The events of the last six hours were never read: the next run must still ask for them.
    e.eventsFail = null;
    await observeUsage(asEngine(e), inventory([image('a')]), dir, NOW + 60_000, warn);
    expect(e.eventsCalls.at(-1)!.since).toBe(Date.parse(ago('6h')));
  });

  it('when the record cannot be saved, warns and still returns what it folded', async () => {
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const usage = await observeUsage(
      new ScriptedEngine() as unknown as Engine,
      inventory([image('a')]),
      file,
      NOW,
      warn,
    );
    expect(Object.keys(usage)).toEqual([idOf('a')]);
    expect(warnings).toContainEqual(expect.stringMatching(/cannot save the usage record in .*not-a-dir.*--state-dir/));
  });
});

describe('watchUsage (imgsweep watch)', () => {
  let dir: string;
  let logs: string[];
  const read = async () => JSON.parse(await readFile(usagePath(dir, KEY), 'utf8')) as UsageRecord;
  const start = (e: ScriptedEngine, flushMs = 40) => {
    const controller = new AbortController();
    const done = watchUsage(asEngine(e), {
      stateDir: dir,
      signal: controller.signal,
      flushMs,
      clock: Date.now,
      log: (m) => logs.push(m),
      backoffMs: { min: 20, max: 80 },
    });
    return { controller, done };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-watch-'));
    logs = [];
  });
  afterEach(async () => {
    slowWrites.ms = 0;
    await rm(dir, { recursive: true, force: true });
  });

  const seed = async (names: string[], at: string) =>
    saveUsage(dir, {
      kind: 'imgsweep-usage',
      version: 1,
      engine: KEY,
      updatedAt: at,
      eventsUntil: at,
      images: Object.fromEntries(names.map((n) => [idOf(n), { firstSeen: at, lastUsed: at }])),
    });

  it('records each use as its event arrives and flushes it within the interval', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a', { tags: ['app:1'] }), image('b', { tags: ['app:2'] })];
    const previous = new Date(Date.now() - 3_600_000).toISOString();
    await seed(['a', 'b'], previous);
    const w = start(e);
    await until(() => e.streams.length === 1);
    expect(e.streams[0]!.since).toBe(Date.parse(previous));
    const used = new Date(Date.now() - 1_000).toISOString();
    // docker run --rm app:1: by the time of the flush, the container is gone.
    e.streams[0]!.push({ time: used, action: 'create', containerId: 'c'.repeat(64), imageId: null, image: 'app:1' });
    e.streams[0]!.push({ time: used, action: 'destroy', containerId: 'c'.repeat(64), imageId: null, image: 'app:1' });
    await until(async () => (await read()).images[idOf('a')]!.lastUsed === used);
    expect((await read()).eventsUntil).toBe(used);
    expect((await read()).images[idOf('b')]!.lastUsed).toBe(previous);
    w.controller.abort();
    expect((await w.done).events).toBe(2);
    expect(e.writes).toEqual([]);
  });

  it('flushes what it has when stopped (SIGTERM), however long the interval', async () => {
    const e = new ScriptedEngine();
    e.images = [image('b', { tags: ['app:2'] })];
    const previous = new Date(Date.now() - 3_600_000).toISOString();
    await seed(['b'], previous);
    const w = start(e, 3_600_000);
    await until(() => e.streams.length === 1);
    const later = new Date(Date.now() - 500).toISOString();
    e.streams[0]!.push({
      time: later,
      action: 'start',
      containerId: 'd'.repeat(64),
      imageId: idOf('b'),
      image: idOf('b'),
    });
    await new Promise((r) => setTimeout(r, 50));
    expect((await read()).images[idOf('b')]!.lastUsed).toBe(previous);
    w.controller.abort();
    expect(await w.done).toEqual({ events: 1, flushes: 1 });
    expect((await read()).images[idOf('b')]!.lastUsed).toBe(later);
  });

  it('flushes one at a time: with an engine slower to list than the interval, it returns only once the last use is saved, and no older flush overwrites it', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a')];
    const previous = new Date(Date.now() - 3_600_000).toISOString();
    await seed(['a'], previous);
    // Listing takes 60 ms; the interval is 15 ms.
    const list = e.listImages.bind(e);
    e.listImages = async () => {
      await new Promise((r) => setTimeout(r, 60));
      return list();
    };
    const w = start(e, 15);
    await until(() => e.streams.length === 1);
    let last = '';
    for (let i = 0; i < 12; i++) {
      last = new Date(Date.now() - 100 + i).toISOString();
      e.streams[0]!.push({
        time: last,
        action: 'start',
        containerId: 'c'.repeat(64),
        imageId: idOf('a'),
        image: idOf('a'),
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    w.controller.abort();
    await w.done;
    // Returned: the last use is on disk already (the CLI prints "stopped" and exits now) ...
    expect((await read()).images[idOf('a')]!.lastUsed).toBe(last);
    // ... and no flush still under way replaces it with an older record afterwards.
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.filter((l) => /cannot flush/.test(l))).toEqual([]);
    expect((await read()).images[idOf('a')]!.lastUsed).toBe(last);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('when stopped while a timed flush is still writing, returns only after the last use is saved', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a')];
    const previous = new Date(Date.now() - 3_600_000).toISOString();
    await seed(['a'], previous);
    const w = start(e, 15);
    await until(() => e.streams.length === 1);
    // Writing the record takes 150 ms from now on.
    slowWrites.ms = 150;
    const used = new Date(Date.now() - 100).toISOString();
    e.streams[0]!.push({
      time: used,
      action: 'start',
      containerId: 'c'.repeat(64),
      imageId: idOf('a'),
      image: idOf('a'),
    });
    // A timed flush has taken the event and is writing it now.
    await new Promise((r) => setTimeout(r, 60));
    w.controller.abort();
    await w.done;
    expect((await read()).images[idOf('a')]!.lastUsed).toBe(used);
  });

  it('does not write while nothing happens', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a')];
    const w = start(e, 10);
    await until(() => e.streams.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    w.controller.abort();
    expect(await w.done).toEqual({ events: 0, flushes: 0 });
  });

  it('reconnects with growing delays while the engine is down, from the last event it saw', async () => {
    const e = new ScriptedEngine();
    e.images = [image('a', { tags: ['app:1'] })];
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await saveUsage(dir, {
      kind: 'imgsweep-usage',
      version: 1,
      engine: KEY,
      updatedAt: hourAgo,
      eventsUntil: hourAgo,
      images: { [idOf('a')]: { firstSeen: hourAgo, lastUsed: hourAgo } },
    });
    const w = start(e);
    await until(() => e.streams.length === 1);
    const seen = new Date().toISOString();
    e.streams[0]!.push({
      time: seen,
      action: 'start',
      containerId: 'c'.repeat(64),
      imageId: idOf('a'),
      image: idOf('a'),
    });
    e.down = true;
    e.streams[0]!.fail('socket hang up');
    await until(() => e.attempts.length >= 5);
    e.down = false;
    await until(() => e.streams.length === 2, 5_000);
    expect(e.streams[1]!.since).toBe(Date.parse(seen));
    // Backoff 20, 40, 80, 80 ms (min 20, max 80).
    const gaps = e.attempts.slice(1, 5).map((t, i) => t - e.attempts[i]!);
    expect(gaps[0]!).toBeLessThan(60);
    expect(gaps[2]!).toBeGreaterThanOrEqual(70);
    expect(gaps[3]!).toBeLessThan(150);
    expect(logs.filter((l) => /^event stream lost \(/.test(l)).length).toBeGreaterThanOrEqual(4);
    expect(logs.filter((l) => /^following container events/.test(l))).toHaveLength(2);
    w.controller.abort();
    await w.done;
    expect((await read()).images[idOf('a')]!.lastUsed).toBe(seen);
    expect(e.writes).toEqual([]);
  });
});
