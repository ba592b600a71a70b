/**
 * A fake Docker Engine of the test harness's own: an HTTP server on a unix socket (in a temp dir, removed on
 * stop) that answers the Engine API from one folder of recorded response shapes (test/fixtures/engine-api,
 * SOURCES.md there; default 1.52/containerd), keeps state (a deleted image or removed container is gone from
 * later listings and inspects), and records every request in order so a test can assert the calls a client
 * made. It is not an engine: what it does beyond replaying a fixture (conflicts, untagging, removal) follows the
 * containerd store's code paths as SOURCES.md describes them, simplified; real-engine suites stay the authority.
 *
 * Served (with or without the /vX.Y prefix that dockerode adds after negotiation): GET|HEAD /_ping, GET /version,
 * /info, /images/json (manifests=1: images-manifests.json), /images/{name}/json, /images/{name}/history,
 * /containers/json, /containers/{id}/json, /system/df (verbose=1: system-df-verbose.json), /events (the lines of
 * events.jsonl within since/until, then the end), DELETE /images/{name}, DELETE /containers/{id}. Anything else
 * answers 501 with a message, and is recorded too.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** A container as GET /containers/json lists it (the fields this server reads; the rest are passed through). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  State: string;
  Created: number;
  [key: string]: unknown;
}

export interface FakeEngineServer {
  /** unix://… to give as --host. */
  host: string;
  socketPath: string;
  /** Every request, in the order they arrived (recorded when answered). */
  requests: RecordedRequest[];
  /** IDs of the images still present. */
  imageIds(): string[];
  /** A container appears (e.g. someone ran one after a plan was made). */
  addContainer(container: ContainerSummary): void;
  /** Called after each request is answered and recorded (to change the state between two calls). */
  onAnswered(listener: (request: RecordedRequest) => void): void;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

interface StoredImage {
  id: string;
  /** The names it carries now (RepoTags); digests are derived from them, as the containerd store does. */
  tags: string[];
  list: Json;
  manifests: Json | null;
  inspect: Json;
  history: Json[];
  /** The recorded DELETE-by-ID answer for this image, if a fixture has one. */
  deleteAnswer: Json[] | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const VERSIONED = /^\/v(\d+\.\d+)(\/.*)$/;
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
/** Docker's httputils.BoolValue: anything but "", "0", "no", "false", "none". */
const truthy = (v: string | undefined) =>
  v !== undefined && !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
const repositoryOf = (ref: string) => ref.replace(/@.*$/, '').replace(/:[^:/]+$/, '');

export async function startFakeEngine(opts: { fixtures?: string } = {}): Promise<FakeEngineServer> {
  const dir = opts.fixtures ?? DEFAULT_FIXTURES;
  const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));
  const has = (name: string) => existsSync(join(dir, name));
  const files = readdirSync(dir);
  const byId = <T>(items: T[], key: (t: T) => unknown) => new Map(items.map((t) => [String(key(t)), t] as const));

  const version = read('version.json') as Json;
  const apiVersion = String(version.ApiVersion);
  const info = read('info.json') as Json;
  const listed = read('images.json') as Json[];
  const manifests = has('images-manifests.json') ? byId(read('images-manifests.json') as Json[], (i) => i.Id) : null;
  const inspects = byId(
    files.filter((f) => f.startsWith('image-inspect-')).map((f) => read(f) as Json),
    (i) => i.Id,
  );
  const histories = byId(
    files.filter((f) => f.startsWith('image-history-')).map((f) => read(f) as Json[]),
    (h) => h[0]?.Id,
  );
  const deleteAnswers = byId(
    files
      .filter((f) => /^delete-.*\.json$/.test(f))
      .map((f) => read(f))
      .filter((b): b is Json[] => Array.isArray(b)),
    (b) => b.find((e) => typeof e.Deleted === 'string')?.Deleted,
  );
  // The recorded 409 wordings of this version, used as templates: their IDs and names are replaced by the ones
  // of the image and container at hand.
  const conflict = (name: string) => String((read(`delete-conflict-${name}.json`) as Json).message);

  const images = new Map<string, StoredImage>();
  for (const item of listed) {
    const id = String(item.Id);
    const tags = (Array.isArray(item.RepoTags) ? item.RepoTags : []).map(String);
    images.set(id, {
      id,
      tags,
      list: item,
      manifests: manifests?.get(id) ?? null,
      // No fixture inspects every listed image (1.50+ containerd's `multi:old` has none): built from its listing.
      inspect: inspects.get(id) ?? inspectFromList(item),
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

  /** The image a name or ID points at (full ID, ID prefix, repo:tag, a name without tag, repo@digest). */
  function resolve(name: string): StoredImage | null {
    const hex = name.replace(/^sha256:/, '');
    if (/^[0-9a-f]{12,64}$/.test(hex)) {
      const found = [...images.values()].filter((i) => i.id.slice(7).startsWith(hex));
      if (found.length === 1) return found[0]!;
    }
    const familiar = name.replace(/^docker\.io\/(library\/)?/, '');
    if (familiar.includes('@')) {
      const [repo, digest] = familiar.split('@') as [string, string];
      return (
        [...images.values()].find((i) => i.id === digest && digestsOf(i, true).includes(`${repo}@${digest}`)) ?? null
      );
    }
    const tagged = /:[^:/]+$/.test(familiar) ? familiar : `${familiar}:latest`;
    return [...images.values()].find((i) => i.tags.includes(tagged)) ?? null;
  }

  /**
   * RepoDigests as the record has them now: the recorded ones of repositories that still carry a name. The
   * containerd store derives them from the names (inspect lists one per name, the list one); a bare digest
   * (an index with no platform left) has no repository and stays.
   */
  function digestsOf(image: StoredImage, inspect: boolean): string[] {
    const recorded = (inspect ? image.inspect : image.list).RepoDigests;
    const repos = new Set(image.tags.map(repositoryOf));
    return (Array.isArray(recorded) ? recorded.map(String) : []).filter(
      (d) => !d.includes('@') || repos.has(repositoryOf(d)),
    );
  }

  const current = (image: StoredImage, body: Json, inspect: boolean): Json => ({
    ...body,
    RepoTags: image.tags,
    RepoDigests: digestsOf(image, inspect),
  });

  const usersOf = (image: StoredImage) => containers.filter((c) => c.ImageID === image.id);
  const running = (c: ContainerSummary) => ['running', 'paused', 'restarting'].includes(c.State);

  /** DELETE /images/{name}: by ID deletes the image (refused while used or named in several repositories); by name untags. */
  function deleteImage(name: string, query: Record<string, string>): Json[] {
    // A forced or per-platform delete (delete-platform*.json) is not modelled: answered 501, so it shows.
    if (truthy(query.force) || query.platforms !== undefined)
      throw new HttpError(501, 'fake engine: DELETE /images with force or platforms is not served');
    const image = resolve(name);
    if (!image) throw new HttpError(404, `No such image: ${name}`);
    const asId = /^(sha256:)?[0-9a-f]{12,64}$/.test(name);
    const users = usersOf(image);
    if (asId) {
      const user = users.find(running) ?? users[0];
      if (user) {
        const template = conflict(running(user) ? 'running' : 'stopped');
        throw new HttpError(409, fill(template, short(image.id), image.id, user.Id));
      }
      if (new Set(image.tags.map(repositoryOf)).size > 1)
        throw new HttpError(409, fill(conflict('multiple-repositories'), short(image.id), image.id, null));
      return remove(image);
    }
    const ref = name.replace(/^docker\.io\/(library\/)?/, '');
    const removed = ref.includes('@')
      ? image.tags.filter((t) => repositoryOf(t) === repositoryOf(ref))
      : [/:[^:/]+$/.test(ref) ? ref : `${ref}:latest`];
    const left = image.tags.filter((t) => !removed.includes(t));
    if (left.length === 0 && users.length > 0)
      throw new HttpError(409, fill(conflict('in-use'), ref, image.id, users[0]!.Id));
    if (left.length === 0) return remove(image);
    image.tags = left;
    return [{ Untagged: ref }];
  }

  /** Deletes an image: the recorded answer when it fits what the image still carries, else one in its shape. */
  function remove(image: StoredImage): Json[] {
    images.delete(image.id);
    const recorded = image.deleteAnswer;
    const untagged = recorded?.filter((e) => typeof e.Untagged === 'string').map((e) => String(e.Untagged));
    if (recorded && untagged!.length === image.tags.length && image.tags.every((t) => untagged!.includes(t)))
      return recorded;
    // containerd's shape (daemon/containerd/image_delete.go): one Untagged per name, then the image ID only.
    return [...image.tags.map((t) => ({ Untagged: t })), { Deleted: image.id }];
  }

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

  function diskUsage(verbose: boolean): Json {
    const body = read(verbose && has('system-df-verbose.json') ? 'system-df-verbose.json' : 'system-df.json') as Json;
    const gone = listed.filter((i) => !images.has(String(i.Id)));
    // Layer bytes freed by the deleted images: plausible (their own bytes), not what the daemon computes.
    const freed = gone.reduce((sum, i) => sum + Math.max(0, Number(i.Size) - Number(i.SharedSize ?? 0)), 0);
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

  function route(method: string, path: string, query: Record<string, string>): { status: number; body: unknown } {
    const ok = (body: unknown) => ({ status: 200, body });
    const seg = (re: RegExp) => re.exec(path);
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
        const image = resolve(decodeURIComponent(m[1]!));
        if (!image) throw new HttpError(404, `No such image: ${decodeURIComponent(m[1]!)}`);
        return ok(current(image, image.inspect, true));
      }
      if ((m = seg(/^\/images\/(.+)\/history$/))) {
        const image = resolve(decodeURIComponent(m[1]!));
        if (!image) throw new HttpError(404, `No such image: ${decodeURIComponent(m[1]!)}`);
        return ok(image.history.map((h, i) => (i === 0 ? { ...h, Tags: image.tags.length ? image.tags : null } : h)));
      }
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
      if ((m = seg(/^\/images\/(.+)$/))) return ok(deleteImage(decodeURIComponent(m[1]!), query));
      if ((m = seg(/^\/containers\/([^/]+)$/))) {
        // Not in the fixtures: the engine's 204, and its 409 for a running container (daemon/delete.go wording).
        const c = findContainer(decodeURIComponent(m[1]!));
        if (!c) throw new HttpError(404, `No such container: ${decodeURIComponent(m[1]!)}`);
        if (running(c) && !truthy(query.force))
          throw new HttpError(
            409,
            `cannot remove container "${c.Names[0] ?? c.Id}": container is running: stop the container before removing or force remove`,
          );
        containers.splice(containers.indexOf(c), 1);
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
      const answer = route(method, path, query);
      status = answer.status;
      if (path === '/_ping') [payload, type] = ['OK', 'text/plain; charset=utf-8'];
      else if (path === '/events') payload = (answer.body as string[]).map((l) => `${l}\n`).join('');
      else payload = answer.body === null ? '' : `${JSON.stringify(answer.body)}\n`;
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500;
      payload = `${JSON.stringify({ message: error instanceof Error ? error.message : String(error) })}\n`;
    }
    const record: RecordedRequest = { method, path, version: versioned ? versioned[1]! : null, query, status };
    requests.push(record);
    for (const listener of listeners) listener(record);
    res.writeHead(status, {
      'Api-Version': apiVersion,
      'Docker-Experimental': 'false',
      Ostype: 'linux',
      Server: `Docker/${String(version.Version)} (linux)`,
      ...(status === 204 ? {} : { 'Content-Type': type }),
    });
    res.end(method === 'HEAD' || status === 204 ? undefined : payload);
  }

  const tempDir = mkdtempSync(join(tmpdir(), 'imgsweep-fake-engine-'));
  const socketPath = join(tempDir, `docker-${randomBytes(3).toString('hex')}.sock`);
  const server = createServer((req, res) => {
    // Bodies are not read by any served call; drained so the connection can be reused.
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });

  return {
    host: `unix://${socketPath}`,
    socketPath,
    requests,
    imageIds: () => [...images.keys()],
    addContainer: (c) => void containers.push({ ...c }),
    onAnswered: (listener) => void listeners.push(listener),
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

/** A recorded conflict message with what it names (a reference or short ID), its container and image replaced. */
function fill(template: string, subject: string, imageId: string, containerId: string | null): string {
  return template
    .replace(/unable to delete \S+/, `unable to delete ${subject}`)
    .replace(/container [0-9a-f]{12}/, (was) => (containerId === null ? was : `container ${short(containerId)}`))
    .replace(/referenced image [0-9a-f]{12}/, `referenced image ${short(imageId)}`);
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
