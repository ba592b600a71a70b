/**
 * A fake Docker Engine (or Podman's Docker-compatible API) of the test harness's own: an HTTP server on a unix
 * socket (in a temp dir, removed on stop) that answers the Engine API from one folder of recorded response shapes
 * (test/fixtures/engine-api/<api>/<store>, SOURCES.md there; default 1.52/containerd), keeps state (an untagged
 * name, a deleted image or a removed container is gone from later listings and inspects), and records every
 * request in order so a test can assert the calls a client made. It is not an engine: what it does beyond
 * replaying a fixture follows the moby (or Podman) sources as SOURCES.md names them, simplified; real-engine
 * suites stay the authority.
 *
 * The image store is the folder's: Podman's when version.json names Podman, else classic or containerd (/info
 * DriverStatus), each with its own delete semantics (fake-image-store.ts).
 *
 * Served (with or without the /vX.Y prefix that dockerode adds after negotiation): GET|HEAD /_ping, GET /version,
 * /info, /images/json (manifests=1: images-manifests.json), /images/{name}/json, /images/{name}/history,
 * /containers/json, /containers/{id}/json, /system/df (verbose=1: system-df-verbose.json), /events (the lines of
 * events.jsonl within since/until, then the end), DELETE /images/{name}, DELETE /containers/{id}. Anything else
 * answers 501 with a message, and is recorded too. A versioned call newer than the folder's API or older than its
 * MinAPIVersion answers the engine's 400; one at another accepted version answers 501 (the folder holds one
 * version's shapes).
 *
 * Simplified: the image list is always the all=1 list; on API < 1.43 it has the classic store's null and
 * `<none>:<none>` placeholders, from 1.43 `[]`. /events replays the recorded lines as they are (with the legacy
 * status/id/from fields below 1.52, as recorded): what the server itself untags, deletes or removes adds no event.
 * /system/df drops deleted images and subtracts their own bytes; the references it lists stay as recorded.
 * The list's `Containers` counts stay as recorded.
 *
 * Podman (pkg/api/handlers/compat at the tags SOURCES.md names): errors are `{cause, message, response}`; the list
 * keeps `Names` and `Dangling` (no names and no child) with the names, and a child whose parent went shows no
 * parent; DELETE /containers/{id} of a running (paused, stopping) container answers 500 "container state improper"
 * (Docker: 409). Served as recorded, not with the state: events (status/id/from at every version, a container's
 * removal is `remove`), /system/df (one entry per name, bare IDs; imgsweep does
 * not ask Podman for it) and the history's IDs (Podman gives a layer the ID of the first image on it; its `Tags`
 * drop the names no image has any more). Podman checks no version range on compat paths: no 400, another version
 * answers 501. Unversioned calls get the folder's shapes (Podman would answer its newest API's).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HttpError,
  imageStore,
  podmanError,
  qualified,
  repositoryOf,
  running,
  truthy,
  type ContainerSummary,
  type Json,
  type StoreKind,
  type StoredImage,
} from './fake-image-store.js';

export type { ContainerSummary, StoreKind } from './fake-image-store.js';

export const DEFAULT_FIXTURES = fileURLToPath(new URL('../fixtures/engine-api/1.52/containerd/', import.meta.url));

export interface RecordedRequest {
  method: string;
  /** The path with the /vX.Y prefix removed, still percent-encoded as sent. */
  path: string;
  /** The API version prefix the request carried ("1.52"), or null for an unversioned call. */
  version: string | null;
  query: Record<string, string>;
  /** The status the server answered. */
  status: number;
}

export interface FakeEngineServer {
  /** unix://… to give as --host. */
  host: string;
  socketPath: string;
  /** The folder's image store (Podman's, else from /info DriverStatus) and API version (version.json). */
  store: StoreKind;
  apiVersion: string;
  /** Every request, in the order it was handled (recorded when answered; see delayRequests). */
  requests: RecordedRequest[];
  /** IDs of the images still present. */
  imageIds(): string[];
  /** A container appears (e.g. someone ran one after a plan was made). */
  addContainer(container: ContainerSummary): void;
  /**
   * Podman only: an image's names become `names`, as `podman pull repo@digest`, `podman tag` or `podman untag`
   * would leave them (no Docker-API call can name an image by digest or take its last name and keep it).
   */
  setImageNames(id: string, names: string[]): void;
  /** Called after each request is answered and recorded (to change the state between two calls). */
  onAnswered(listener: (request: RecordedRequest) => void): void;
  /**
   * Handles the requests `ms` names (by method and decoded path without /vX.Y) that many milliseconds after they
   * arrive, as an engine busy that long would: a client that sends a call before an earlier one is answered
   * then has it handled first.
   */
  delayRequests(ms: (method: string, path: string) => number): void;
  stop(): Promise<void>;
}

const VERSIONED = /^\/v(\d+\.\d+)(\/.*)$/;
const PLACEHOLDERS_BEFORE = '1.43';

/** Numeric comparison of "1.9" and "1.41". */
function compareApi(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** The engine kind as imgsweep tells it (Platform.Name or a component's name says Podman). */
function isPodman(version: Json): boolean {
  const platform = isObj(version.Platform) ? version.Platform.Name : undefined;
  const components = Array.isArray(version.Components) ? version.Components : [];
  const names = [platform, ...components.map((c) => (isObj(c) ? c.Name : undefined))];
  return names.some((n) => typeof n === 'string' && /podman/i.test(n));
}

/** The containerd store says so in DriverStatus (daemon/containerd/service.go LayerStoreStatus). */
function storeOf(info: Json): StoreKind {
  const status = Array.isArray(info.DriverStatus) ? info.DriverStatus : [];
  return status.some((p) => Array.isArray(p) && p[0] === 'driver-type' && p[1] === 'io.containerd.snapshotter.v1')
    ? 'containerd'
    : 'classic';
}

export async function startFakeEngine(opts: { fixtures?: string } = {}): Promise<FakeEngineServer> {
  const dir = opts.fixtures ?? DEFAULT_FIXTURES;
  const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));
  const has = (name: string) => existsSync(join(dir, name));
  const files = readdirSync(dir);
  const byId = <T>(items: T[], key: (t: T) => unknown) => new Map(items.map((t) => [String(key(t)), t] as const));

  const version = read('version.json') as Json;
  const apiVersion = String(version.ApiVersion);
  const minVersion = typeof version.MinAPIVersion === 'string' ? version.MinAPIVersion : null;
  const info = read('info.json') as Json;
  const podman = isPodman(version);
  const kind: StoreKind = podman ? 'podman' : storeOf(info);
  const listed = read('images.json') as Json[];
  const manifests = has('images-manifests.json') ? byId(read('images-manifests.json') as Json[], (i) => i.Id) : null;
  const inspects = byId(
    files.filter((f) => f.startsWith('image-inspect-')).map((f) => read(f) as Json),
    (i) => i.Id,
  );
  // Keyed by the image of the same name's inspect: Podman gives a layer the ID of the first image on it, so
  // tool's top entry carries base's ID.
  const histories = new Map(
    files
      .filter((f) => f.startsWith('image-history-'))
      .map((f) => {
        const h = read(f) as Json[];
        const inspect = f.replace('image-history-', 'image-inspect-');
        return [String(has(inspect) ? (read(inspect) as Json).Id : h[0]?.Id), h] as const;
      }),
  );
  const deleteAnswers = byId(
    files
      .filter((f) => /^delete-.*\.json$/.test(f))
      .map((f) => read(f))
      .filter((b): b is Json[] => Array.isArray(b)),
    (b) => b.find((e) => typeof e.Deleted === 'string')?.Deleted,
  );

  const refsIn = (v: unknown) => (Array.isArray(v) ? v.map(String).filter((r) => !r.startsWith('<none>')) : []);
  const images = new Map<string, StoredImage>();
  for (const item of listed) {
    const id = String(item.Id);
    const tags = refsIn(item.RepoTags);
    const inspect = inspects.get(id);
    images.set(id, {
      id,
      // Podman's list gives a bare parent ID.
      parentId:
        typeof item.ParentId === 'string' && item.ParentId !== ''
          ? item.ParentId.replace(/^(?!sha256:)/, 'sha256:')
          : null,
      tags,
      digests: refsIn((inspect ?? item).RepoDigests),
      list: item,
      manifests: manifests?.get(id) ?? null,
      // No fixture inspects every listed image (1.50+ containerd's `multi:old` has none): built from its listing.
      inspect: inspect ?? inspectFromList(item),
      history: histories.get(id) ?? [
        { Comment: '', Created: item.Created, CreatedBy: '', Id: id, Size: 0, Tags: tags.length ? tags : null },
      ],
      deleteAnswer: deleteAnswers.get(id) ?? null,
    });
  }
  const containers = (read('containers.json') as ContainerSummary[]).map((c) => ({ ...c }));
  const events = readFileSync(join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const store = imageStore(kind, images, containers, (name) => read(`delete-conflict-${name}.json`) as Json);

  /** The references as the list (inspect false) or an inspect shows them, in this API version's form. */
  function current(image: StoredImage, body: Json, inspect: boolean): Json {
    if (podman) return podmanCurrent(image, body, inspect);
    const tags = image.tags;
    const digests = store.digestsOf(image, inspect);
    if (inspect || compareApi(apiVersion, PLACEHOLDERS_BEFORE) >= 0)
      return { ...body, RepoTags: tags, RepoDigests: digests };
    // daemon/images/images.go (20.10): nil lists, and placeholders when there are no references at all.
    if (tags.length === 0 && digests.length === 0)
      return { ...body, RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'] };
    return { ...body, RepoTags: tags.length ? tags : null, RepoDigests: digests.length ? digests : null };
  }

  /** Podman: `[]` for no names at any version; Names and Dangling (omitempty) follow; a parent that went is "". */
  function podmanCurrent(image: StoredImage, body: Json, inspect: boolean): Json {
    const { Names: _names, Dangling: _dangling, ...rest } = body;
    const parent = image.parentId !== null && images.has(image.parentId) ? image.parentId.slice(7) : '';
    const refs = { RepoTags: image.tags, RepoDigests: store.digestsOf(image, inspect) };
    if (inspect) return { ...body, ...refs, Parent: parent };
    const dangling = image.tags.length === 0 && ![...images.values()].some((i) => i.parentId === image.id);
    return {
      ...rest,
      ...refs,
      ParentId: parent,
      ...(image.tags.length > 0 ? { Names: image.tags } : {}),
      ...(dangling ? { Dangling: true } : {}),
    };
  }

  /** Names any image still has (Podman's history lists every name of the images on a layer). */
  const names = () => new Set([...images.values()].flatMap((i) => i.tags));

  /** History entries that name a present image carry its tags now (a child's history names its parent). */
  const history = (image: StoredImage) =>
    podman
      ? image.history.map((h) => {
          const left = Array.isArray(h.Tags) ? h.Tags.filter((t) => names().has(String(t))) : [];
          return { ...h, Tags: left.length ? left : null };
        })
      : image.history.map((h) => {
          const named = images.get(String(h.Id));
          return named ? { ...h, Tags: named.tags.length ? named.tags : null } : h;
        });

  function containerInspect(c: ContainerSummary): Json {
    // No fixture has GET /containers/{id}/json: this is built from the container's listing (fields after
    // api/types/container InspectResponse). Start and finish times come from events.jsonl when it has them,
    // else the creation time; a running container's FinishedAt is Go's zero time.
    const timeOf = (action: string) => {
      const line = events
        .map((l) => JSON.parse(l) as Json)
        .find((e) => e.Action === action && isObj(e.Actor) && e.Actor.ID === c.Id);
      return line && typeof line.timeNano === 'number' ? new Date(line.timeNano / 1e6).toISOString() : null;
    };
    const created = new Date(c.Created * 1000).toISOString();
    const isRunning = running(c);
    return {
      Id: c.Id,
      Created: created,
      Path: typeof c.Command === 'string' ? c.Command.split(' ')[0] : '',
      State: {
        Status: c.State,
        Running: isRunning,
        Paused: c.State === 'paused',
        Restarting: c.State === 'restarting',
        Dead: c.State === 'dead',
        ExitCode: 0,
        StartedAt: timeOf('start') ?? created,
        FinishedAt: isRunning ? '0001-01-01T00:00:00Z' : (timeOf('die') ?? created),
      },
      Image: c.ImageID,
      Name: c.Names[0] ?? '',
      Config: { Image: c.Image, Labels: c.Labels ?? {} },
      HostConfig: c.HostConfig ?? {},
      Mounts: c.Mounts ?? [],
      ImageManifestDescriptor: c.ImageManifestDescriptor,
    };
  }

  const findContainer = (idOrName: string) =>
    containers.find((c) => c.Id === idOrName || c.Id.startsWith(idOrName) || c.Names.includes(`/${idOrName}`));

  /** DELETE /containers/{id} without force: the engine's 409 for a running one, in its version's wording. */
  function removeContainer(c: ContainerSummary, query: Record<string, string>): void {
    // libpod checkReadyForRemoval, answered by utils.InternalServerError.
    if (podman && ['running', 'paused', 'stopping'].includes(c.State) && !truthy(query.force))
      throw podmanError(
        500,
        `cannot remove container ${c.Id} as it is ${c.State} - running or paused containers cannot be removed without force: container state improper`,
        'container state improper',
      );
    if (!podman && running(c) && !truthy(query.force)) {
      // daemon/delete.go cleanupContainer: 20.10's wording, then 25.0's (container.Name has its slash).
      const message =
        compareApi(apiVersion, '1.44') < 0
          ? `You cannot remove a ${c.State} container ${c.Id}. Stop the container before attempting removal or force remove`
          : `cannot remove container ${JSON.stringify(c.Names[0] ?? c.Id)}: container is ${c.State}: stop the container before removing or force remove`;
      throw new HttpError(409, message);
    }
    containers.splice(containers.indexOf(c), 1);
  }

  function diskUsage(verbose: boolean): Json {
    if (podman) return read('system-df.json') as Json;
    const body = read(verbose && has('system-df-verbose.json') ? 'system-df-verbose.json' : 'system-df.json') as Json;
    const gone = listed.filter((i) => !images.has(String(i.Id)));
    // SharedSize is -1 in a list that did not compute it (API < 1.42): /system/df's own figure then.
    const dfItems = [
      ...(Array.isArray(body.Images) ? (body.Images as Json[]) : []),
      ...(isObj(body.ImageUsage) && Array.isArray(body.ImageUsage.Items) ? (body.ImageUsage.Items as Json[]) : []),
    ];
    const sharedOf = (i: Json) =>
      Number(i.SharedSize) >= 0 ? Number(i.SharedSize) : Number(dfItems.find((d) => d.Id === i.Id)?.SharedSize ?? 0);
    // Layer bytes freed by the deleted images: plausible (their own bytes), not what the daemon computes.
    const freed = gone.reduce((sum, i) => sum + Math.max(0, Number(i.Size) - Math.max(0, sharedOf(i))), 0);
    const keep = (items: unknown) =>
      Array.isArray(items) ? (items as Json[]).filter((i) => images.has(String(i.Id))) : items;
    const out: Json = { ...body };
    if (typeof out.LayersSize === 'number') out.LayersSize = Math.max(0, out.LayersSize - freed);
    if (out.Images !== undefined) out.Images = keep(out.Images);
    if (isObj(out.ImageUsage)) {
      const u = out.ImageUsage;
      out.ImageUsage = {
        ...u,
        Items: keep(u.Items),
        TotalCount: images.size,
        ...(typeof u.TotalSize === 'number' ? { TotalSize: Math.max(0, u.TotalSize - freed) } : {}),
      };
    }
    return out;
  }

  /** Lines of events.jsonl whose time is within [since, until] (seconds, fractions allowed), of the filtered types. */
  function eventLines(query: Record<string, string>): string[] {
    const since = query.since === undefined ? -Infinity : Number(query.since);
    const until = query.until === undefined ? Infinity : Number(query.until);
    if (Number.isNaN(since) || Number.isNaN(until))
      throw new HttpError(501, 'fake engine: /events since/until are served as Unix times only');
    const filters = query.filters ? (JSON.parse(query.filters) as Record<string, unknown>) : {};
    const types = filters.type === undefined ? null : Object.keys(asSet(filters.type));
    return events.filter((line) => {
      const e = JSON.parse(line) as Json;
      const t = typeof e.timeNano === 'number' ? e.timeNano / 1e9 : Number(e.time);
      return t >= since && t <= until && (types === null || types.includes(String(e.Type)));
    });
  }

  /** api/server/middleware/version.go: outside [MinAPIVersion, ApiVersion] is a 400 (errdefs.InvalidParameter). */
  function checkVersion(asked: string | null): void {
    if (asked === null || asked === apiVersion) return;
    if (!podman && compareApi(asked, apiVersion) > 0)
      throw new HttpError(400, `client version ${asked} is too new. Maximum supported API version is ${apiVersion}`);
    if (!podman && minVersion !== null && compareApi(asked, minVersion) < 0)
      throw new HttpError(
        400,
        `client version ${asked} is too old. Minimum supported API version is ${minVersion}, please upgrade your client to a newer version`,
      );
    throw new HttpError(501, `fake engine: serves the shapes of API ${apiVersion} only, not ${asked}`);
  }

  function route(method: string, path: string, query: Record<string, string>): { status: number; body: unknown } {
    const ok = (body: unknown) => ({ status: 200, body });
    const seg = (re: RegExp) => re.exec(path);
    const imageNamed = (encoded: string) => {
      const name = decodeURIComponent(encoded);
      const image = store.resolve(name);
      // Podman: compat GetImage's wording (the history handler's differs a little).
      if (!image && podman) throw podmanError(404, `failed to find image ${name}: ${qualified(name)}: No such image`);
      if (!image) throw new HttpError(404, `No such image: ${name}`);
      return image;
    };
    let m: RegExpExecArray | null;
    if ((method === 'GET' || method === 'HEAD') && path === '/_ping') return { status: 200, body: 'OK' };
    if (method === 'GET') {
      if (path === '/version') return ok(version);
      if (path === '/info') return ok({ ...info, Images: images.size, Containers: containers.length });
      if (path === '/images/json') {
        if (query.filters !== undefined) throw new HttpError(501, 'fake engine: image list filters are not served');
        const withManifests = truthy(query.manifests) && manifests !== null;
        return ok(
          [...images.values()].map((i) =>
            current(i, withManifests ? (i.manifests ?? i.list) : stripManifests(i.list), false),
          ),
        );
      }
      if ((m = seg(/^\/images\/(.+)\/json$/))) {
        const image = imageNamed(m[1]!);
        return ok(current(image, image.inspect, true));
      }
      if ((m = seg(/^\/images\/(.+)\/history$/))) return ok(history(imageNamed(m[1]!)));
      if (path === '/containers/json') {
        if (query.filters !== undefined) throw new HttpError(501, 'fake engine: container list filters are not served');
        return ok(truthy(query.all) ? containers : containers.filter(running));
      }
      if ((m = seg(/^\/containers\/([^/]+)\/json$/))) {
        const c = findContainer(decodeURIComponent(m[1]!));
        if (!c) throw new HttpError(404, `No such container: ${decodeURIComponent(m[1]!)}`);
        return ok(containerInspect(c));
      }
      if (path === '/system/df') return ok(diskUsage(truthy(query.verbose)));
      if (path === '/events') return { status: 200, body: eventLines(query) };
    }
    if (method === 'DELETE') {
      if ((m = seg(/^\/images\/(.+)$/))) return ok(store.deleteImage(decodeURIComponent(m[1]!), query));
      if ((m = seg(/^\/containers\/([^/]+)$/))) {
        const name = decodeURIComponent(m[1]!);
        const c = findContainer(name);
        // Podman: RemoveStorageContainer's answer for a name it does not know.
        if (!c && podman)
          throw podmanError(
            404,
            `no container with ID or name ${JSON.stringify(name)} found: no such container`,
            'no such container',
          );
        if (!c) throw new HttpError(404, `No such container: ${name}`);
        removeContainer(c, query);
        return { status: 204, body: null };
      }
    }
    throw new HttpError(501, `fake engine: ${method} ${path} is not served`);
  }

  const requests: RecordedRequest[] = [];
  const listeners: ((r: RecordedRequest) => void)[] = [];

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://engine');
    const versioned = VERSIONED.exec(url.pathname);
    const path = versioned ? versioned[2]! : url.pathname;
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    let status: number;
    let payload: string;
    let type = 'application/json';
    try {
      checkVersion(versioned ? versioned[1]! : null);
      const answer = route(method, path, query);
      status = answer.status;
      if (path === '/_ping') [payload, type] = ['OK', 'text/plain; charset=utf-8'];
      else if (path === '/events') payload = (answer.body as string[]).map((l) => `${l}\n`).join('');
      else payload = answer.body === null ? '' : `${JSON.stringify(answer.body)}\n`;
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500;
      const body = error instanceof HttpError ? error.body : undefined;
      payload = `${JSON.stringify(body ?? { message: error instanceof Error ? error.message : String(error) })}\n`;
    }
    const record: RecordedRequest = { method, path, version: versioned ? versioned[1]! : null, query, status };
    requests.push(record);
    for (const listener of listeners) listener(record);
    res.writeHead(status, {
      'Api-Version': apiVersion,
      ...(podman
        ? { 'Libpod-Api-Version': String(version.Version), Server: `Libpod/${String(version.Version)} (linux)` }
        : { 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Docker/${String(version.Version)} (linux)` }),
      ...(status === 204 ? {} : { 'Content-Type': type }),
    });
    res.end(method === 'HEAD' || status === 204 ? undefined : payload);
  }

  const tempDir = mkdtempSync(join(tmpdir(), 'imgsweep-fake-engine-'));
  const socketPath = join(tempDir, `docker-${randomBytes(3).toString('hex')}.sock`);
  let delay: (method: string, path: string) => number = () => 0;
  const server = createServer((req, res) => {
    // Bodies are not read by any served call; drained so the connection can be reused.
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://engine').pathname.replace(VERSIONED, '$2');
      const ms = delay(req.method ?? 'GET', decodeURIComponent(path));
      if (ms > 0) setTimeout(() => handle(req, res), ms);
      else handle(req, res);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } catch (error) {
    rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }

  return {
    host: `unix://${socketPath}`,
    socketPath,
    store: kind,
    apiVersion,
    requests,
    imageIds: () => [...images.keys()],
    addContainer: (c) => void containers.push({ ...c }),
    setImageNames(id, names) {
      const image = images.get(id);
      if (!image) throw new Error(`fake engine: no image ${id}`);
      store.setNames(image, names);
    },
    onAnswered: (listener) => void listeners.push(listener),
    delayRequests: (ms) => void (delay = ms),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A filter value as the engine reads it: {"a": true} or ["a"]. */
function asSet(v: unknown): Record<string, true> {
  if (Array.isArray(v)) return Object.fromEntries(v.map((k) => [String(k), true]));
  return isObj(v) ? Object.fromEntries(Object.keys(v).map((k) => [k, true])) : {};
}

/** The list without `Manifests` (filled only when asked; `if !opts.Manifests { image.Manifests = nil }`). */
function stripManifests(item: Json): Json {
  const { Manifests: _omitted, ...rest } = item;
  return rest;
}

/**
 * An inspect built from a listing, for an image no inspect fixture records (1.50+ containerd's `multi:old`, an
 * index with no platform content). As daemon/containerd/image_inspect.go builds it when no platform is available
 * (`multi.Best == nil`): no Config, Created, Os or layers; RepoDigests one `repo@<target>` per name
 * (`collectRepoTagsAndDigests`), never the bare digest the list shows.
 */
function inspectFromList(item: Json): Json {
  const id = String(item.Id);
  const tags = Array.isArray(item.RepoTags) ? item.RepoTags.map(String) : [];
  return {
    Id: id,
    RepoTags: tags,
    RepoDigests: [...new Set(tags.map((t) => `${repositoryOf(t)}@${id}`))],
    Size: item.Size ?? 0,
    RootFS: { Type: '' },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    Descriptor: item.Descriptor,
  };
}
