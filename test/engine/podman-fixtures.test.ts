/**
 * Podman 5's answers on its Docker-compatible API (test/fixtures/engine-api/<api>/podman, sources in SOURCES.md
 * there) run through the mapping the way src/engine/docker.ts does on Podman. The same facts must come out as from
 * Docker, with Podman's names: fully qualified, and a repository digest for every named repository.
 */
import { describe, expect, it } from 'vitest';
import { compareApi, mapIdentity, negotiateApiVersion } from '../../src/engine/identity.js';
import { parseHistory, rootfsLayers, zipLayers } from '../../src/engine/layers.js';
import { mapContainer, mapDiskUsage, mapImages, mapInspectRefs, parseEvents, unixToIso } from '../../src/engine/map.js';
import { doneFromDeleteResponse, outcomeFromError } from '../../src/engine/outcome.js';
import type { ImageRecord } from '../../src/inventory/types.js';
import { done, reader, usageAfterEvents } from '../support/api-fixtures.js';

// Podman 5.0 to 5.7 report API 1.41, 5.8 reports 1.44; the handlers shape some answers by the version asked.
const FOLDERS = [
  { api: '1.41', engine: '5.7.1' },
  { api: '1.44', engine: '5.8.2' },
];

const below = (api: string, version: string) => compareApi(api, version) < 0;

const NAMES = ['app', 'base', 'web', 'old', 'tool'];
/** Podman names a local tag localhost/…, a Docker Hub image docker.io/library/…. */
const TAGS: Record<string, string[]> = {
  app: ['docker.io/library/app:1.4'],
  base: ['localhost/base:3.20', 'localhost/base:latest', 'mirror.local:5000/base:3.20'],
  web: ['localhost/web:2', 'mirror.local:5000/web:2'],
  old: [],
  tool: ['localhost/tool:dev'],
};
const CREATED: Record<string, string> = {
  base: '2025-06-15T00:00:00.000Z',
  tool: '2025-07-01T00:00:00.000Z',
  web: '2025-08-01T00:00:00.000Z',
  old: '2025-09-01T00:00:00.000Z',
  app: '2025-10-01T08:00:00.000Z',
};
const LAYER_SIZES: Record<string, number[]> = {
  app: [7_200_000, 600_000],
  base: [7_200_000],
  web: [4_500_000],
  old: [1_000_000],
  tool: [7_200_000],
};
const repository = (name: string) => name.slice(0, name.lastIndexOf(':'));

interface RawImage {
  Id: string;
  ParentId: string;
  SharedSize: number;
  Size: number;
  VirtualSize?: number;
  Containers: number;
  Dangling?: boolean;
  History?: string[];
}

describe.each(FOLDERS)('Podman $engine, API $api', ({ api, engine }) => {
  const { json, text } = reader(api, 'podman');
  const inspects = Object.fromEntries(NAMES.map((n) => [n, mapInspectRefs(json(`image-inspect-${n}.json`))]));
  const idOf = (name: string) => inspects[name]!.id;
  const rawImages = json('images.json') as RawImage[];
  const images = mapImages(rawImages);
  const byId = new Map(images.map((i) => [i.id, i]));
  const image = (name: string): ImageRecord => byId.get(idOf(name)) ?? expect.fail(`${name} is not listed`);
  const raw = (name: string): RawImage =>
    rawImages.find((i) => i.Id === idOf(name)) ?? expect.fail(`${name} is not listed`);

  it('identity: Podman, the classic store, and the API version it reports', () => {
    const version = json('version.json');
    const pinned = negotiateApiVersion(version);
    expect(pinned).toBe(api);
    expect(compareApi(pinned, (version as { MinAPIVersion: string }).MinAPIVersion)).toBeGreaterThanOrEqual(0);
    const info = json('info.json') as Record<string, unknown>;
    const identity = mapIdentity(version, info, pinned, 'unix:///run/podman/podman.sock');
    expect(identity).toMatchObject({
      kind: 'podman',
      id: '',
      version: engine,
      imageStore: 'classic',
      driver: 'overlay',
      rootDir: '/var/lib/containers/storage',
      name: 'build-host-1',
    });
    // /info's ID is a new UUID on every call: the key must not depend on it.
    expect(info.ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    const again = mapIdentity(
      version,
      { ...info, ID: '0b5e7c9d-3f41-4a8e-b2c6-7d9e1f0a2b3c' },
      pinned,
      'unix:///run/podman/podman.sock',
    );
    expect(again.key).toBe(identity.key);
  });

  it('images: the same IDs as inspect, qualified names, created times, parents and container counts', () => {
    for (const name of NAMES) {
      const img = image(name);
      expect(img.repoTags.toSorted()).toEqual(TAGS[name]!.toSorted());
      expect(img.created).toBe(CREATED[name]);
      expect(img.size).toBeGreaterThan(0);
      // Podman's layer tree makes tool (base plus one history entry, no new layer) base's child.
      expect(img.parentId).toBe(name === 'tool' ? idOf('base') : null);
      expect(raw(name).Containers).toBe(name === 'app' || name === 'tool' ? 1 : 0);
    }
    // The list's ParentId is a bare ID, unlike its Id.
    expect(raw('tool').ParentId).toMatch(/^[0-9a-f]{64}$/);
    for (const img of images) expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(images.flatMap((i) => [...i.repoTags, ...i.repoDigests]).filter((r) => r.includes('<none>'))).toEqual([]);
  });

  it('images: SharedSize is never computed (-1 unasked below 1.42, else 0), VirtualSize only below 1.44', () => {
    for (const name of NAMES) {
      const r = raw(name);
      expect(r.SharedSize).toBe(below(api, '1.42') ? -1 : 0);
      expect(r.VirtualSize).toBe(below(api, '1.44') ? r.Size : undefined);
    }
    // app shares base's 7.2 MB layer, yet says 0: docker.ts reads it as unknown on Podman.
    expect(image('app').sharedSize).toBe(below(api, '1.42') ? null : 0);
  });

  it('images: a digest reference for every named repository, local builds included', () => {
    expect(image('app').repoDigests).toEqual([expect.stringMatching(/^docker\.io\/library\/app@sha256:[0-9a-f]{64}$/)]);
    expect(image('old').repoDigests).toEqual([]);
    for (const name of ['app', 'base', 'web', 'tool']) {
      const repos = image(name).repoDigests.map((d) => d.slice(0, d.indexOf('@')));
      expect(repos.toSorted()).toEqual([...new Set(TAGS[name]!.map(repository))].sort());
    }
    for (const img of images) for (const d of img.repoDigests) expect(d).toMatch(/^[^@]+@sha256:[0-9a-f]{64}$/);
  });

  it('dangling image: no references, though Podman still lists the names it once had', () => {
    expect(image('old')).toMatchObject({ repoTags: [], repoDigests: [], parentId: null });
    expect(inspects.old).toMatchObject({ repoTags: [], repoDigests: [], parentId: null });
    expect(raw('old').Dangling).toBe(true);
    expect(raw('old').History).not.toEqual([]);
    expect(rawImages.filter((i) => i.Dangling === true)).toHaveLength(1);
  });

  it("inspect: the list's tags and digests; a bare Parent read as the parent's ID", () => {
    for (const name of NAMES) {
      const refs = inspects[name]!;
      expect(refs.repoTags.toSorted()).toEqual(TAGS[name]!.toSorted());
      expect(refs.repoDigests.toSorted()).toEqual(image(name).repoDigests.toSorted());
      expect(refs.parentId).toBe(name === 'tool' ? idOf('base') : null);
      const body = json(`image-inspect-${name}.json`) as Record<string, unknown>;
      expect(body).toHaveProperty('ContainerConfig');
      expect(body.VirtualSize).toBe(below(api, '1.44') ? image(name).size : undefined);
    }
    expect((json('image-inspect-tool.json') as { Parent: string }).Parent).toMatch(/^[0-9a-f]{64}$/);
  });

  it('layers: RootFS zipped with the history gives every layer its size (history IDs are no image IDs)', () => {
    for (const name of NAMES) {
      const inspect = json(`image-inspect-${name}.json`);
      const history = json(`image-history-${name}.json`) as { Id: string }[];
      const layers = zipLayers(rootfsLayers(inspect), parseHistory(history));
      expect(layers.map((l) => l.digest)).toEqual(rootfsLayers(inspect));
      expect(layers.map((l) => l.size)).toEqual(LAYER_SIZES[name]);
    }
    const ids = (json('image-history-app.json') as { Id: string }[]).map((e) => e.Id);
    expect(ids).toContain('sha256:<missing>');
  });

  it('containers: image IDs that are listed images, qualified image names, states', () => {
    const list = json('containers.json') as Record<string, unknown>[];
    const containers = list.map((c, i) => mapContainer(c, null, `containers[${i}]`));
    expect(containers.map((c) => [c.names[0], c.state, c.image])).toEqual([
      ['app-1', 'running', 'docker.io/library/app:1.4'],
      ['tool-job', 'exited', 'localhost/tool:dev'],
    ]);
    expect(containers.map((c) => c.imageId)).toEqual([idOf('app'), idOf('tool')]);
    for (const c of containers) expect(byId.has(c.imageId)).toBe(true);
    // Two embedded HostConfig fields cancel out in Go's encoder: the list has none.
    for (const c of list) expect(c).not.toHaveProperty('HostConfig');
  });

  // docker.ts does not ask Podman for /system/df (4.3 answers zeros there). From 5.5 the answer is real, one entry per
  // name with bare IDs and bare tags: this is what it would map to.
  it('system df (not asked on Podman): per-name entries with bare IDs map to the listed sizes', () => {
    const body = json('system-df.json') as { Images: { Id: string; RepoTags: string[] }[]; BuildCache: unknown[] };
    expect(body.Images.length).toBeGreaterThan(NAMES.length);
    expect(body.Images.find((i) => i.Id === idOf('app').slice(7))?.RepoTags).toEqual(['1.4']);
    expect(body.BuildCache).toEqual([]);
    const df = mapDiskUsage(body);
    expect(df.layersSize).toBeGreaterThan(0);
    for (const name of NAMES) expect(df.sizes.get(idOf(name))).toBe(image(name).size);
    expect(df.sharedSize.get(idOf('app'))).toBe(7_200_000);
    expect(df.sharedSize.get(idOf('web'))).toBe(0);
    expect(df.buildCache).toEqual([]);
  });

  it('events: status, id and from on every line; died read as die, remove for destroy, image events skipped', () => {
    const lines = text('events.jsonl').trim().split('\n');
    for (const line of lines)
      expect(Object.keys(JSON.parse(line) as object)).toEqual(expect.arrayContaining(['status', 'id']));
    const events = parseEvents(text('events.jsonl'));
    expect(events.map((e) => [e.action, e.image])).toEqual([
      ['start', 'localhost/tool:dev'],
      ['die', 'localhost/tool:dev'],
      ['cleanup', 'localhost/tool:dev'],
      ['die', 'localhost/web:2'],
      ['cleanup', 'localhost/web:2'],
      ['remove', 'localhost/web:2'],
    ]);
    for (const e of events) expect(e.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(events[3]!.time).toBe(unixToIso(1764633603.75));
  });

  it('events feed image use: a removed container started from localhost/web:2 marks web used at its die', () => {
    const usage = usageAfterEvents({ json, text }, images, idOf('web'));
    // cleanup and remove come later but are no use.
    expect(usage[idOf('web')]).toMatchObject({ lastUsed: unixToIso(1764633603.75) });
    expect(usage[idOf('web')]!.source).toMatch(/^event die/);
    expect(usage[idOf('app')]!.lastUsed).toBe('2025-12-03T00:00:00.000Z');
  });

  it('delete answers: Deleted (a bare ID) before Untagged, one Deleted per image, no layers', () => {
    expect(doneFromDeleteResponse(json('delete-untag.json'))).toEqual({
      status: 'done',
      deleted: [],
      untagged: ['localhost/base:latest'],
    });
    const body = json('delete-image.json') as Record<string, string>[];
    expect(Object.keys(body[0]!)).toEqual(['Deleted']);
    expect(body[0]!.Deleted).toMatch(/^[0-9a-f]{64}$/);
    expect(done(body)).toEqual({ deleted: [idOf('web')], untagged: ['mirror.local:5000/web:2'], status: 'done' });
    expect(done(json('delete-dangling.json'))).toMatchObject({ deleted: [idOf('old')], untagged: [] });
  });

  it('delete conflicts: 409 when a container uses the image, 500 for several names, both conflicts', () => {
    for (const file of [
      'delete-conflict-in-use.json',
      'delete-conflict-running.json',
      'delete-conflict-stopped.json',
    ]) {
      const body = json(file) as { cause: string; message: string; response: number };
      expect(body).toMatchObject({ cause: 'image is in use by a container', response: 409 });
      expect(body.message).toMatch(/^image \S+ is in use: image used by [0-9a-f]{64}: /);
      expect(outcomeFromError({ statusCode: 409, json: body }, 'podman')).toEqual({
        status: 'conflict',
        message: body.message,
      });
    }
    const several = json('delete-conflict-multiple-repositories.json') as { message: string; response: number };
    expect(several.response).toBe(500);
    expect(outcomeFromError({ statusCode: 500, json: several }, 'podman')).toEqual({
      status: 'conflict',
      message: several.message,
    });
    // Only Podman's 500 means that: from Docker a 500 is a failure.
    expect(outcomeFromError({ statusCode: 500, json: several }, 'docker').status).toBe('failed');
  });
});
