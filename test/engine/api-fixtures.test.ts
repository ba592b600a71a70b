/**
 * Recorded Engine API responses (test/fixtures/engine-api/<api>/<store>, sources in SOURCES.md there) run through the
 * mapping the way src/engine/docker.ts does. The same facts must come out of every API version and image store.
 */
import { describe, expect, it } from 'vitest';
import { compareApi, mapIdentity, negotiateApiVersion, OUR_API_VERSION } from '../../src/engine/identity.js';
import { parseHistory, rootfsLayers, zipLayers } from '../../src/engine/layers.js';
import { mapContainer, mapDiskUsage, mapImages, mapInspectRefs, parseEvents, unixToIso } from '../../src/engine/map.js';
import { doneFromDeleteResponse, outcomeFromError } from '../../src/engine/outcome.js';
import type { ImageRecord } from '../../src/inventory/types.js';
import { done, reader, usageAfterEvents } from '../support/api-fixtures.js';

type Store = 'graph' | 'containerd';
const FOLDERS: { api: string; store: Store; engine: string }[] = [
  { api: '1.41', store: 'graph', engine: '20.10.24' },
  { api: '1.44', store: 'graph', engine: '25.0.0' },
  { api: '1.47', store: 'graph', engine: '27.5.0' },
  { api: '1.47', store: 'containerd', engine: '27.5.0' },
  { api: '1.50', store: 'graph', engine: '28.2.0' },
  { api: '1.50', store: 'containerd', engine: '28.2.0' },
  { api: '1.52', store: 'graph', engine: '29.0.0' },
  { api: '1.52', store: 'containerd', engine: '29.0.0' },
];

const at = (api: string, version: string) => compareApi(api, version) >= 0;

/** The tags each image carries, the same on every version and store (by the fixtures' image names). */
const TAGS: Record<string, string[]> = {
  app: ['app:1.4'],
  base: ['base:3.20', 'base:latest', 'mirror.local:5000/base:3.20'],
  web: ['web:2', 'mirror.local:5000/web:2'],
  old: [],
  tool: ['tool:dev'],
  multi: ['multi:1'],
};
const CREATED: Record<string, string> = {
  base: '2025-06-15T00:00:00.000Z',
  tool: '2025-07-01T00:00:00.000Z',
  web: '2025-08-01T00:00:00.000Z',
  old: '2025-09-01T00:00:00.000Z',
  app: '2025-10-01T08:00:00.000Z',
  multi: '2025-11-01T00:00:00.000Z',
};
/** Unpacked bytes of each layer, by the image whose history adds it. */
const LAYER_SIZES: Record<string, number[]> = {
  app: [7_200_000, 600_000],
  base: [7_200_000],
  web: [4_500_000],
  old: [1_000_000],
  tool: [7_200_000],
  multi: [8_000_000],
};

describe.each(FOLDERS)('API $api, $store image store (Docker $engine)', ({ api, store, engine }) => {
  const { json, text } = reader(api, store);
  const c8d = store === 'containerd';
  const names = c8d ? ['app', 'base', 'web', 'old', 'multi'] : ['app', 'base', 'web', 'old', 'tool'];
  const inspects = Object.fromEntries(names.map((n) => [n, mapInspectRefs(json(`image-inspect-${n}.json`))]));
  const idOf = (name: string) => inspects[name]!.id;
  const images = mapImages(json('images.json'));
  const byId = new Map(images.map((i) => [i.id, i]));
  const image = (name: string): ImageRecord => byId.get(idOf(name)) ?? expect.fail(`${name} is not listed`);

  it('identity: Docker, the image store from DriverStatus, and an API version the server accepts', () => {
    const version = json('version.json');
    const pinned = negotiateApiVersion(version);
    expect(pinned).toBe(compareApi(api, OUR_API_VERSION) < 0 ? api : OUR_API_VERSION);
    const min = (version as { MinAPIVersion: string }).MinAPIVersion;
    expect(compareApi(pinned, min)).toBeGreaterThanOrEqual(0);
    const identity = mapIdentity(version, json('info.json'), pinned, 'unix:///var/run/docker.sock');
    expect(identity).toMatchObject({
      kind: 'docker',
      version: engine,
      imageStore: c8d ? 'containerd' : 'classic',
      driver: c8d ? 'overlayfs' : 'overlay2',
      rootDir: '/var/lib/docker',
      name: 'build-host-1',
    });
    // No Docker version's /info says where containerd keeps its data: maxUsage cannot be measured there.
    expect(identity.containerdRoot).toBeUndefined();
  });

  it('images: the same IDs as inspect, tags without placeholders, created times and parents', () => {
    for (const name of names) {
      const img = image(name);
      expect(img.repoTags.toSorted()).toEqual(TAGS[name]!.toSorted());
      expect(img.created).toBe(CREATED[name]);
      expect(img.size).toBeGreaterThan(0);
      expect(img.parentId).toBe(name === 'tool' ? idOf('base') : null);
    }
    // Every image ID is a full sha256 digest; on containerd it is the manifest or index digest, never the config's.
    for (const img of images) expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(images.flatMap((i) => [...i.repoTags, ...i.repoDigests]).filter((r) => r.includes('<none>'))).toEqual([]);
  });

  it('images: SharedSize only when the engine computed it (shared-size=1, API 1.42+)', () => {
    if (!at(api, '1.42')) {
      for (const img of images) expect(img.sharedSize).toBeNull();
      return;
    }
    expect(image('app').sharedSize).toBe(7_200_000);
    expect(image('base').sharedSize).toBe(7_200_000);
    expect(image('web').sharedSize).toBe(0);
  });

  it('images: repository digests name the image by repository, on both stores', () => {
    expect(image('app').repoDigests).toEqual([c8d ? `app@${idOf('app')}` : expect.stringMatching(/^app@sha256:/)]);
    expect(image('old').repoDigests).toEqual([]);
    // On containerd every named image has a digest reference (name@manifest digest), even one never pushed.
    if (c8d) for (const name of ['app', 'base', 'web', 'multi']) expect(image(name).repoDigests).not.toEqual([]);
  });

  // Containerd store, Docker 28.2+ (DELETE ?platforms= can remove the only pulled platform): an index with no
  // platform content left is listed by daemon/containerd/image_list.go with RepoDigests ["sha256:…"] (a bare
  // digest, no repository) and Created 0; only repo@digest entries are references. (Created 0 reads as 1970.)
  it('images: every repository digest is repo@digest', () => {
    for (const img of images) for (const d of img.repoDigests) expect(d).toMatch(/^[^@]+@sha256:[0-9a-f]{64}$/);
  });

  it('dangling image: no references on any version (1.41 placeholders dropped; containerd hides moby-dangling@)', () => {
    expect(image('old')).toMatchObject({ repoTags: [], repoDigests: [], parentId: null });
    expect(inspects.old).toMatchObject({ repoTags: [], repoDigests: [], parentId: null });
    for (const img of images) expect([...img.repoTags, ...img.repoDigests].join(' ')).not.toContain('moby-dangling');
  });

  it('inspect: same ID, tags and digests as the list; Parent null when empty or omitted (API 1.52)', () => {
    for (const name of names) {
      const refs = inspects[name]!;
      expect(refs.repoTags.toSorted()).toEqual(TAGS[name]!.toSorted());
      // containerd's list names one digest reference per image, inspect one per repository.
      for (const d of image(name).repoDigests) expect(refs.repoDigests).toContain(d);
      expect(refs.parentId).toBe(name === 'tool' ? idOf('base') : null);
      const raw = json(`image-inspect-${name}.json`) as Record<string, unknown>;
      if (at(api, '1.52') && name !== 'tool') expect(raw).not.toHaveProperty('Parent');
    }
  });

  it('layers: RootFS zipped with the history gives every layer its size', () => {
    for (const name of names) {
      const inspect = json(`image-inspect-${name}.json`);
      const layers = zipLayers(rootfsLayers(inspect), parseHistory(json(`image-history-${name}.json`)));
      expect(layers.map((l) => l.digest)).toEqual(rootfsLayers(inspect));
      expect(layers.map((l) => l.size)).toEqual(LAYER_SIZES[name]);
    }
  });

  it('containers: image IDs that are listed images, in their states', () => {
    const list = json('containers.json') as unknown[];
    const containers = list.map((c, i) => mapContainer(c, null, `containers[${i}]`));
    expect(containers.map((c) => [c.names[0], c.state, c.image])).toEqual([
      ['app-1', 'running', 'app:1.4'],
      ['tool-job', 'exited', c8d ? 'multi:1' : 'tool:dev'],
    ]);
    expect(containers.map((c) => c.imageId)).toEqual([idOf('app'), idOf(c8d ? 'multi' : 'tool')]);
    for (const c of containers) expect(byId.has(c.imageId)).toBe(true);
    // API 1.51+ counts them in the list too (-1 before: unknown).
    if (at(api, '1.51'))
      expect(
        (json('images.json') as { Id: string; Containers: number }[]).find((i) => i.Id === idOf('app'))?.Containers,
      ).toBe(1);
  });

  it('system df: layer total and every image', () => {
    const df = mapDiskUsage(json('system-df.json'));
    expect(df.layersSize).toBeGreaterThan(0);
    for (const name of names) expect(df.sizes.get(idOf(name))).toBe(image(name).size);
    expect(df.sharedSize.get(idOf('app'))).toBe(7_200_000);
  });

  // From API 1.42 api/types/build/cache.go tags the field `json:" Parents,omitempty"`, with a space: the key on the
  // wire is " Parents" (the deprecated single Parent before that).
  it('system df: build-cache records with their parents', () => {
    const df = mapDiskUsage(json(at(api, '1.52') ? 'system-df-verbose.json' : 'system-df.json'));
    expect(df.buildCache.map((r) => [r.id, r.type, r.inUse, r.shared, r.size])).toEqual([
      ['q1w2e3r4t5y6u7i8o9p0a1s2d', 'regular', false, true, 7_200_000],
      ['z9x8c7v6b5n4m3l2k1j0h9g8f', 'regular', false, false, 600_000],
      ['m1n2b3v4c5x6z7l8k9j0h1g2f', 'exec.cachemount', true, false, 0],
    ]);
    expect(df.buildCache[2]!.lastUsedAt).toBeNull();
    expect(df.buildCache[1]!.parents).toEqual(['q1w2e3r4t5y6u7i8o9p0a1s2d']);
  });

  if (at(api, '1.52')) {
    // What imgsweep asks from API 1.52 (verbose=1): only ImageUsage, ContainerUsage, VolumeUsage and
    // BuildCacheUsage (the names on the wire, from the Go struct tags; the changelog's "ImagesUsage" and the
    // swagger's "ImagesDiskUsage" of 29.0-29.3 are not what is sent). Without verbose, 1.52 and later (up to
    // Docker 29.7, API 1.55) still send the legacy fields as well.
    it('system df (verbose=1, no legacy fields): the same layer total, images and build cache', () => {
      const legacy = mapDiskUsage(json('system-df.json'));
      const current = mapDiskUsage(json('system-df-verbose.json'));
      expect(current.layersSize).toBe(legacy.layersSize);
      expect([...current.sizes]).toEqual([...legacy.sizes]);
      expect([...current.sharedSize]).toEqual([...legacy.sharedSize]);
      expect(current.buildCache).toEqual(legacy.buildCache);
    });

    it("negotiation: an imgsweep older than the engine's minimum (Docker 29: 1.44) is refused, not pinned below", () => {
      expect(() => negotiateApiVersion(json('version.json'), '1.43')).toThrow(/accepts API 1\.44 and newer/);
    });
  }

  it('events: container start/die/destroy as use, image events skipped, with or without the legacy fields', () => {
    const lines = text('events.jsonl');
    expect(lines.includes('"status"')).toBe(!at(api, '1.52'));
    const events = parseEvents(lines);
    expect(events.map((e) => [e.action, e.image])).toEqual([
      ['start', c8d ? 'multi:1' : 'tool:dev'],
      ['die', c8d ? 'multi:1' : 'tool:dev'],
      ['die', 'web:2'],
      ['destroy', 'web:2'],
    ]);
    for (const e of events) expect(e.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(events[2]!.time).toBe(unixToIso(1764633603.75));
  });

  it('events feed image use: a removed container started from web:2 marks web:2 used at its last event', () => {
    const usage = usageAfterEvents({ json, text }, images, idOf('web'));
    expect(usage[idOf('web')]).toMatchObject({ lastUsed: unixToIso(1764633603.75) });
    expect(usage[idOf('web')]!.source).toMatch(/^event die/);
    expect(usage[idOf('app')]!.lastUsed).toBe('2025-12-03T00:00:00.000Z');
  });

  it('delete answers: untag only, untag then delete, and the deleted IDs', () => {
    expect(doneFromDeleteResponse(json('delete-untag.json'))).toEqual({
      status: 'done',
      deleted: [],
      untagged: ['base:latest'],
    });
    const removed = done(json('delete-image.json'));
    expect(removed.untagged[0]).toBe('mirror.local:5000/web:2');
    expect(removed.deleted[0]).toBe(idOf('web'));
    // The classic store also lists the layers it released; containerd lists no layers.
    expect(removed.deleted.length).toBe(c8d ? 1 : 2);
    expect(done(json('delete-dangling.json')).deleted[0]).toBe(idOf('old'));
    if (c8d) {
      expect(doneFromDeleteResponse(json('delete-multi-platform.json'))).toEqual({
        status: 'done',
        deleted: [idOf('multi')],
        untagged: ['multi:1'],
      });
    }
  });

  it('delete conflicts: 409 in each wording is a conflict, never a failure', () => {
    const files = [
      'delete-conflict-in-use.json',
      'delete-conflict-running.json',
      'delete-conflict-stopped.json',
      'delete-conflict-multiple-repositories.json',
      ...(c8d ? [] : ['delete-conflict-child.json']),
    ];
    for (const file of files) {
      const body = json(file) as { message: string };
      expect(body.message).toMatch(/^conflict: unable to (delete|remove repository reference)/);
      expect(outcomeFromError({ statusCode: 409, json: body }, 'docker')).toEqual({
        status: 'conflict',
        message: body.message,
      });
    }
  });

  if (c8d && at(api, '1.50')) {
    it('containerd, DELETE ?platforms=: refused unforced (400), forced it names the platform manifest only', () => {
      const refused = outcomeFromError({ statusCode: 400, json: json('delete-platform-unforced.json') }, 'docker');
      expect(refused.status).toBe('failed');
      const platform = done(json('delete-platform.json'));
      // A manifest digest that is no listed image: not an image imgsweep deleted.
      expect(platform.deleted).toHaveLength(1);
      expect(byId.has(platform.deleted[0] ?? '')).toBe(false);
    });
  }

  if (c8d && at(api, '1.47')) {
    it('containerd, manifests=1: the multi-platform image lists a platform never pulled', () => {
      const listed = json('images-manifests.json') as {
        Id: string;
        Manifests: { Available: boolean; Size: { Total: number }; ImageData: { Platform: { architecture: string } } }[];
      }[];
      const multi = listed.find((i) => i.Id === idOf('multi'))!;
      expect(multi.Manifests.map((m) => [m.ImageData.Platform.architecture, m.Available, m.Size.Total > 0])).toEqual([
        ['amd64', true, true],
        ['arm64', false, false],
      ]);
      // The same images as without manifests=1 (which imgsweep asks for on this store), with their platforms.
      const mapped = mapImages(listed);
      expect(mapped.map(({ platforms: _p, ...rest }) => rest)).toEqual(images);
      expect(mapped.find((i) => i.id === idOf('multi'))!.platforms).toEqual({ total: 2, available: 1 });
    });
  }
});
