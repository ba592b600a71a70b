/** Pure mapping of engine responses (Docker 20.10+, API 1.43+ shapes, Podman's compat API) into our types. */
import type { BuildCacheRecord, ContainerRecord, ContainerState, ImageRecord } from '../inventory/types.js';
import type { EngineDiskUsage, EngineEvent, ImageRefs } from './engine.js';
import { asArray, asObj, fail, isObj, num, optNum, optStr, str, strList, strMap, type Obj } from './shape.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** Full image ID: Podman omits the "sha256:" prefix. Anything else is left as the engine said it. */
export function normalizeId(id: string): string {
  const lower = id.toLowerCase();
  return HEX64.test(lower) ? `sha256:${lower}` : id;
}

export function isImageId(ref: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/i.test(ref);
}

export function unixToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** An engine timestamp (RFC 3339, nanoseconds) as ISO, or null for Go's zero time or garbage. */
export function engineTime(value: string | null): string | null {
  if (value === null || value === '' || value.startsWith('0001-01-01')) return null;
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

// API < 1.43 puts these in images with neither tags nor digests.
const NO_TAG = '<none>:<none>';
const NO_DIGEST = '<none>@<none>';

/**
 * /system/df -> total layer bytes, per-image sizes and shared bytes (-1 or missing: unknown, left out), and the
 * build cache. Either shape: up to API 1.51 LayersSize, Images and BuildCache at the top; from 1.52 also
 * ImageUsage {TotalSize, Items} and BuildCacheUsage {Items}. Asked with verbose (as imgsweep does from 1.52), the
 * engine sends only the new fields, with their lists.
 */
export function mapDiskUsage(raw: unknown, where = 'system df'): EngineDiskUsage {
  const o = asObj(raw, where);
  const imageUsage = isObj(o.ImageUsage) ? o.ImageUsage : null;
  const cacheUsage = isObj(o.BuildCacheUsage) ? o.BuildCacheUsage : null;
  const [images, imagesAt] =
    o.Images !== undefined && o.Images !== null
      ? [o.Images, `${where}.Images`]
      : [imageUsage?.Items ?? [], `${where}.ImageUsage.Items`];
  const sharedSize = new Map<string, number>();
  const sizes = new Map<string, number>();
  for (const [i, image] of asArray(images, imagesAt).entries()) {
    const img = asObj(image, `${imagesAt}[${i}]`);
    const id = normalizeId(str(img, 'Id', `${imagesAt}[${i}]`));
    const shared = optNum(img, 'SharedSize', `${imagesAt}[${i}]`);
    if (shared !== null && shared >= 0) sharedSize.set(id, shared);
    sizes.set(id, optNum(img, 'Size', `${imagesAt}[${i}]`) ?? -1);
  }
  const legacyCache = o.BuildCache !== undefined && o.BuildCache !== null;
  return {
    layersSize:
      optNum(o, 'LayersSize', where) ??
      (imageUsage ? optNum(imageUsage, 'TotalSize', `${where}.ImageUsage`) : null) ??
      0,
    sharedSize,
    sizes,
    buildCache: legacyCache
      ? mapBuildCache(o.BuildCache, `${where}.BuildCache`)
      : mapBuildCache(cacheUsage?.Items, `${where}.BuildCacheUsage.Items`),
  };
}

/** /system/df's BuildCache (null when the engine has built nothing) -> records. */
export function mapBuildCache(raw: unknown, where: string): BuildCacheRecord[] {
  if (raw === null || raw === undefined) return [];
  return asArray(raw, where).map((item, i) => {
    const at = `${where}[${i}]`;
    const o = asObj(item, at);
    const parent = optStr(o, 'Parent', at);
    const time = (key: string) => {
      const text = optStr(o, key, at);
      // A record of a build under way has no LastUsedAt yet; nanosecond times are kept to the millisecond.
      return text === null || Number.isNaN(Date.parse(text)) ? null : new Date(Date.parse(text)).toISOString();
    };
    return {
      id: str(o, 'ID', at),
      // From API 1.42 the engine's JSON key is " Parents", with a space (its struct tag has one); "Parents" too,
      // should that ever be fixed, and the deprecated single "Parent" before 1.42.
      parents: Array.isArray(o[' Parents'])
        ? strList(o, ' Parents', at)
        : Array.isArray(o.Parents)
          ? strList(o, 'Parents', at)
          : parent
            ? [parent]
            : [],
      type: optStr(o, 'Type', at) ?? 'regular',
      description: optStr(o, 'Description', at) ?? '',
      inUse: o.InUse === true,
      shared: o.Shared === true,
      size: optNum(o, 'Size', at) ?? 0,
      createdAt: time('CreatedAt') ?? fail(at, 'a CreatedAt time', o.CreatedAt),
      lastUsedAt: time('LastUsedAt'),
      usageCount: optNum(o, 'UsageCount', at) ?? 0,
    };
  });
}

/** Image inspect -> its ID, references and parent (the fields apply re-checks). */
export function mapInspectRefs(raw: unknown, where = 'image inspect'): ImageRefs {
  const o = asObj(raw, where);
  const parent = optStr(o, 'Parent', where);
  return {
    id: normalizeId(str(o, 'Id', where)),
    repoTags: strList(o, 'RepoTags', where).filter((t) => t !== NO_TAG && !isDanglingName(t)),
    repoDigests: strList(o, 'RepoDigests', where).filter(
      (d) => d !== NO_DIGEST && !isDanglingName(d) && d.includes('@'),
    ),
    parentId: parent === null || parent === '' ? null : normalizeId(parent),
  };
}

function isDanglingName(ref: string): boolean {
  return ref.startsWith('moby-dangling@');
}

export function mapImage(raw: unknown, where = 'image'): ImageRecord {
  const o = asObj(raw, where);
  const parent = optStr(o, 'ParentId', where);
  const size = optNum(o, 'Size', where) ?? -1;
  const virtual = optNum(o, 'VirtualSize', where) ?? -1;
  const shared = optNum(o, 'SharedSize', where);
  // Podman's listing also puts a name pulled by digest (repo@sha256:…) among RepoTags, and again among
  // RepoDigests. It is a name (Podman refuses to delete by ID while it is there): kept once, as a name.
  // The containerd store names an untagged leftover "moby-dangling@sha256:…": no reference anyone wrote.
  const names = strList(o, 'RepoTags', where).filter((t) => t !== NO_TAG && !isDanglingName(t));
  // The containerd store lists an index with no platform content left under its bare digest ("sha256:…"):
  // no repository, so no digest reference.
  const digests = strList(o, 'RepoDigests', where).filter(
    (d) => d !== NO_DIGEST && !names.includes(d) && !isDanglingName(d) && d.includes('@'),
  );
  return {
    id: normalizeId(str(o, 'Id', where)),
    parentId: parent === null || parent === '' ? null : normalizeId(parent),
    repoTags: names,
    repoDigests: digests,
    created: unixToIso(num(o, 'Created', where)),
    // -1 means "not computed"; an unknown size counts as 0 rather than inventing one.
    size: size >= 0 ? size : Math.max(virtual, 0),
    sharedSize: shared === null || shared < 0 ? null : shared,
    labels: strMap(o, 'Labels', where),
    ...platformsOf(o.Manifests),
  };
}

/** The containerd store's Manifests (API 1.47+, asked with manifests=1): image manifests, attestations left out. */
function platformsOf(raw: unknown): { platforms?: { total: number; available: number } } {
  if (!Array.isArray(raw)) return {};
  const images = raw.filter((m) => isObj(m) && m.Kind === 'image');
  if (images.length === 0) return {};
  return {
    platforms: { total: images.length, available: images.filter((m) => isObj(m) && m.Available === true).length },
  };
}

export function mapImages(raw: unknown): ImageRecord[] {
  return asArray(raw, 'GET /images/json').map((item, i) => mapImage(item, `images[${i}]`));
}

const STATES: Record<string, ContainerState> = {
  created: 'created',
  configured: 'created', // Podman: defined, never started
  running: 'running',
  stopping: 'running', // Podman: still running until stopped
  paused: 'paused',
  restarting: 'restarting',
  removing: 'removing',
  exited: 'exited',
  stopped: 'exited', // Podman
  dead: 'dead',
};

/** Unknown states count as running: the one state whose images imgsweep never touches. */
export function mapState(state: string): ContainerState {
  return STATES[state.toLowerCase()] ?? 'running';
}

/** Image references of image-type mounts (IDs or names; the caller resolves names). */
export function mountImageRefs(mounts: unknown): string[] {
  if (!Array.isArray(mounts)) return [];
  const refs: string[] = [];
  for (const m of mounts) {
    if (!isObj(m) || m.Type !== 'image') continue;
    const ref = [m.Source, m.Name].find((v): v is string => typeof v === 'string' && v !== '');
    if (ref !== undefined) refs.push(isImageId(ref) ? normalizeId(ref) : ref);
  }
  return refs;
}

/** A container from the list endpoint plus its inspect (for start/finish times); null inspect = unknown times. */
export function mapContainer(summary: unknown, inspect: unknown, where = 'container'): ContainerRecord {
  const o = asObj(summary, where);
  const state = isObj(inspect) && isObj(inspect.State) ? inspect.State : ({} as Obj);
  return {
    id: str(o, 'Id', where),
    names: strList(o, 'Names', where).map((n) => n.replace(/^\//, '')),
    imageId: normalizeId(str(o, 'ImageID', where)),
    image: optStr(o, 'Image', where) ?? '',
    state: mapState(str(o, 'State', where)),
    // Inspect's Created has sub-second precision; the list's is whole seconds.
    created:
      (isObj(inspect) && typeof inspect.Created === 'string' ? engineTime(inspect.Created) : null) ??
      unixToIso(num(o, 'Created', where)),
    startedAt: engineTime(optStr(state, 'StartedAt', `${where}.State`)),
    finishedAt: engineTime(optStr(state, 'FinishedAt', `${where}.State`)),
    mountImageIds: mountImageRefs(o.Mounts).filter(isImageId),
  };
}

/** Newline-delimited JSON from GET /events; non-container events are skipped. */
export function parseEvents(text: string): EngineEvent[] {
  const events: EngineEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      fail(`events[${i}]`, 'a JSON object', line);
    }
    const o = asObj(raw, `events[${i}]`);
    if ((o.Type ?? o.type) !== 'container') return;
    const actor = isObj(o.Actor) ? o.Actor : {};
    const attrs = isObj(actor.Attributes) ? actor.Attributes : {};
    const image = typeof attrs.image === 'string' ? attrs.image : typeof o.from === 'string' ? o.from : '';
    const nanos = typeof o.timeNano === 'number' ? o.timeNano / 1e6 : null;
    const id = typeof actor.ID === 'string' ? actor.ID : typeof o.id === 'string' ? o.id : '';
    events.push({
      time: new Date(nanos ?? num(o, 'time', `events[${i}]`) * 1000).toISOString(),
      action: typeof o.Action === 'string' ? o.Action : typeof o.status === 'string' ? o.status : '',
      containerId: id,
      imageId: isImageId(image) ? normalizeId(image) : null,
      image,
    });
  });
  return events;
}
