/** The Engine implementation over dockerode (Docker, and Podman's Docker-compatible API). */
import type Docker from 'dockerode';
import { EngineError } from '../errors.js';
import type { ContainerRecord, EngineIdentity, ImageRecord } from '../inventory/types.js';
import { mapLimit } from '../map-limit.js';
import { bounded, makeClients, readFailure, unavailable } from './client.js';
import type { CachePruneOutcome, Engine, EngineDiskUsage, EngineEvent, ImageRefs, WriteOutcome } from './engine.js';
import { targetFor, type ConnectionSettings, type EngineTarget } from './host.js';
import { compareApi, mapIdentity, negotiateApiVersion } from './identity.js';
import { parseHistory, rootfsLayers, zipLayers } from './layers.js';
import {
  isImageId,
  mapContainer,
  mapDiskUsage,
  mapImages,
  mapInspectRefs,
  mountImageRefs,
  normalizeId,
  parseEvents,
} from './map.js';
import { doneFromDeleteResponse, engineMessage, outcomeFromError, statusOf } from './outcome.js';
import { asArray, asObj, isObj, str } from './shape.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
const INSPECT_CONCURRENCY = 4;

export interface ConnectOptions {
  /** --host URL; else env.DOCKER_HOST; else the local socket. */
  host?: string;
  env: NodeJS.ProcessEnv;
  /** Bound on every call (default 60 s), and on the retries of a busy /system/df. */
  timeoutMs?: number;
  /** --context and --tls-* from the command line (host.ts). */
  connection?: ConnectionSettings;
}

export async function connectEngine(opts: ConnectOptions): Promise<Engine> {
  const target = targetFor(opts.host, opts.env, opts.connection);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clients = makeClients(target, opts.env);
  try {
    let version: unknown;
    try {
      // Unversioned: the one call whose shape is the same at every API version.
      version = await bounded(clients.docker(undefined, timeoutMs).version(), timeoutMs, 'GET /version');
    } catch (error) {
      if (statusOf(error) === null) throw unavailable(target, error);
      throw new EngineError(`${target.host} answered /version with ${engineMessage(error)}: is it a Docker API?`, {
        cause: error,
      });
    }
    const apiVersion = negotiateApiVersion(version);
    const docker = clients.docker(apiVersion, timeoutMs);
    const info: unknown = await bounded(docker.info() as Promise<unknown>, timeoutMs, 'GET /info').catch(
      (error: unknown) => {
        throw readFailure(target, error, 'reading /info');
      },
    );
    const identity = mapIdentity(version, info, apiVersion, target.host);
    return new DockerEngine(docker, clients.docker(apiVersion, undefined), {
      target,
      identity,
      insecureRegistries: insecureRegistriesOf(info),
      timeoutMs,
      close: () => clients.close(),
    });
  } catch (error) {
    clients.close();
    throw error;
  }
}

/**
 * The registries the engine reaches over plain HTTP, as /info's RegistryConfig lists them: names marked not
 * secure, and the CIDRs (127.0.0.0/8 by default). Podman lists none there: none then.
 */
function insecureRegistriesOf(info: unknown): string[] {
  const config = isObj(info) && isObj(info.RegistryConfig) ? info.RegistryConfig : null;
  if (!config) return [];
  const cidrs = Array.isArray(config.InsecureRegistryCIDRs)
    ? config.InsecureRegistryCIDRs.filter((c): c is string => typeof c === 'string')
    : [];
  const names = isObj(config.IndexConfigs)
    ? Object.values(config.IndexConfigs).flatMap((c) =>
        isObj(c) && c.Secure === false && typeof c.Name === 'string' ? [c.Name] : [],
      )
    : [];
  return [...names, ...cidrs];
}

// dockerode puts names into paths as they are.
const enc = encodeURIComponent;

/** How far ahead of now Podman is asked to read its event log until (the call waits that long). */
const PODMAN_EVENTS_LEAD_MS = 250;

/** Unix time as "seconds.nanoseconds" (nine digits), which Podman and Docker both read exactly. */
function podmanTime(ms: number): string {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String((whole % 1000) * 1_000_000).padStart(9, '0')}`;
}

/** A stream's whole body as text (the events of a closed time window). */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Times go as "seconds.fraction" strings, which the engines read exactly (dockerode's types say whole numbers). */
const eventsQuery = (query: { since: string; until?: string; filters: object; abortSignal?: AbortSignal }) =>
  query as unknown as Docker.GetEventsOptions;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Connection {
  target: EngineTarget;
  identity: EngineIdentity;
  insecureRegistries: string[];
  timeoutMs: number;
  close(): void;
}

class DockerEngine implements Engine {
  readonly host: string;
  /** The last Podman untag in flight: the next one waits for it (write() never rejects). */
  private podmanUntags: Promise<WriteOutcome> = Promise.resolve({ status: 'done', deleted: [], untagged: [] });
  /** The /system/df in flight: the engine serves one at a time and refuses the others. */
  private diskUsageCall: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly docker: Docker,
    /** The same engine with no call timeout, for event streams that may stay quiet. */
    private readonly streams: Docker,
    private readonly conn: Connection,
  ) {
    this.host = conn.target.host;
  }

  private get podman(): boolean {
    return this.conn.identity.kind === 'podman';
  }

  private async read<T>(call: (docker: Docker) => Promise<T>, what: string): Promise<T> {
    try {
      return await bounded(call(this.docker), this.conn.timeoutMs, what);
    } catch (error) {
      throw readFailure(this.conn.target, error, what);
    }
  }

  private async write(
    call: (docker: Docker) => Promise<unknown>,
    what: string,
    done: (body: unknown) => WriteOutcome,
  ): Promise<WriteOutcome> {
    try {
      return done(await bounded(call(this.docker), this.conn.timeoutMs, what));
    } catch (error) {
      return outcomeFromError(error, this.conn.identity.kind);
    }
  }

  identity(): Promise<EngineIdentity> {
    return Promise.resolve({ ...this.conn.identity });
  }

  insecureRegistries(): string[] {
    return [...this.conn.insecureRegistries];
  }

  async listImages(): Promise<ImageRecord[]> {
    const sharedSize = compareApi(this.conn.identity.apiVersion, '1.42') >= 0;
    // The containerd store lists each image's platforms with manifests=1 (API 1.47+): a delete removes them all.
    const platforms =
      this.conn.identity.imageStore === 'containerd' && compareApi(this.conn.identity.apiVersion, '1.47') >= 0;
    const images = mapImages(
      await this.read(
        (d) =>
          d.listImages({
            all: true,
            ...(sharedSize ? { 'shared-size': true } : {}),
            ...(platforms ? { manifests: true } : {}),
          } as Docker.ListImagesOptions),
        'listing images',
      ),
    );
    // Podman (4.x) answers SharedSize 0 even for images that share layers: unknown, not zero.
    return this.podman ? images.map((i) => ({ ...i, sharedSize: null })) : images;
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const list = asArray(
      await this.read((d) => d.listContainers({ all: true }), 'listing containers'),
      'GET /containers/json',
    );
    return mapLimit(list, INSPECT_CONCURRENCY, async (summary) => {
      const id = str(asObj(summary, 'container'), 'Id', 'container');
      let inspect: unknown = null;
      try {
        inspect = await bounded(
          this.docker.getContainer(enc(id)).inspect(),
          this.conn.timeoutMs,
          `inspecting container ${id}`,
        );
      } catch (error) {
        // Removed since the list: keep it with unknown times, which protects its image for this run.
        if (statusOf(error) !== 404) throw readFailure(this.conn.target, error, `inspecting container ${id}`);
      }
      const record = mapContainer(summary, inspect, `container ${id.slice(0, 12)}`);
      const mounts =
        isObj(summary) && summary.Mounts !== undefined ? summary.Mounts : isObj(inspect) ? inspect.Mounts : [];
      for (const ref of mountImageRefs(mounts)) {
        const imageId = isImageId(ref) ? normalizeId(ref) : await this.resolveReference(ref).catch(() => null);
        if (imageId !== null && !record.mountImageIds.includes(imageId)) record.mountImageIds.push(imageId);
      }
      return record;
    });
  }

  async resolveReference(ref: string): Promise<string | null> {
    return (await this.inspectImage(ref))?.id ?? null;
  }

  async inspectImage(ref: string): Promise<ImageRefs | null> {
    let body: unknown;
    try {
      body = await bounded(this.docker.getImage(enc(ref)).inspect(), this.conn.timeoutMs, `inspecting ${ref}`);
    } catch (error) {
      // 404: points nowhere; 400: not a valid reference, so it points nowhere either.
      if (statusOf(error) === 404 || statusOf(error) === 400) return null;
      throw readFailure(this.conn.target, error, `inspecting ${ref}`);
    }
    return mapInspectRefs(body);
  }

  /**
   * The engine's disk accounting, one call at a time. Docker serves one /system/df at a time and answers any
   * other (ours, `docker system df`, a monitoring agent's) with a 500 while it runs: retried with backoff
   * until the timeout. Throws when it cannot be had; null on Podman, whose /system/df is a placeholder.
   */
  diskUsage(): Promise<EngineDiskUsage | null> {
    if (this.podman) return Promise.resolve(null);
    const call = this.diskUsageCall.then(() => this.askDiskUsage());
    this.diskUsageCall = call.catch(() => undefined);
    return call;
  }

  /** From API 1.52 the per-image and per-record lists come only with verbose (1.53 drops the old fields). */
  private dfCall(): Promise<unknown> {
    if (compareApi(this.conn.identity.apiVersion, '1.52') < 0) return this.docker.df() as Promise<unknown>;
    return new Promise((resolve, reject) =>
      this.docker.modem.dial(
        {
          path: '/system/df?',
          method: 'GET',
          options: { verbose: true },
          statusCodes: { 200: true, 500: 'server error' },
        },
        (error, data) => (error ? reject(error) : resolve(data)),
      ),
    );
  }

  private async askDiskUsage(): Promise<EngineDiskUsage> {
    const deadline = performance.now() + this.conn.timeoutMs;
    for (let attempt = 1, pause = 100; ; attempt++, pause = Math.min(pause * 2, 2_000)) {
      const left = deadline - performance.now();
      try {
        return mapDiskUsage(await bounded(this.dfCall(), Math.max(1, Math.round(left)), 'GET /system/df'));
      } catch (error) {
        // A busy engine answers 500. Anything else (a refusal, an engine gone) will not change by asking again.
        const retry = statusOf(error) === 500 && performance.now() + pause < deadline;
        if (!retry) {
          const tries =
            attempt === 1
              ? ''
              : `, after ${attempt} tries in ${Math.round((this.conn.timeoutMs - Math.max(0, deadline - performance.now())) / 1000)} s`;
          throw new EngineError(`/system/df: ${engineMessage(error)}${tries}`, { cause: error });
        }
        await sleep(pause);
      }
    }
  }

  /**
   * POST /build/prune naming the records: its `id` filter is a regular expression, so the IDs go in one anchored
   * alternation, which matches those records and no other (one value per filter is all the engine takes). `all`
   * lets shared and internal records match too, and `private` (with keepShared) makes the engine check sharing
   * again at that moment. dockerode's pruneBuilder sends no query at all (the engine would prune every unused
   * record), so the request is made here.
   */
  async pruneBuildCacheRecords(ids: string[], keepShared: boolean): Promise<CachePruneOutcome> {
    if (ids.length === 0) throw new EngineError('no build-cache record named to remove');
    const bad = ids.find((id) => !/^[a-z0-9]+$/.test(id));
    if (bad !== undefined) throw new EngineError(`not a build-cache record ID: ${JSON.stringify(bad)}`);
    if (this.podman) throw new EngineError('Podman keeps no BuildKit build cache');
    const filters = { id: { [`^(${ids.join('|')})$`]: true }, ...(keepShared ? { private: {} } : {}) };
    const call = new Promise<unknown>((resolve, reject) =>
      this.docker.modem.dial(
        {
          path: '/build/prune?',
          method: 'POST',
          options: { filters, all: true },
          statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
        },
        (error, data) => (error ? reject(error) : resolve(data)),
      ),
    );
    try {
      const body = asObj(await bounded(call, this.conn.timeoutMs, 'POST /build/prune'), 'build prune');
      const deleted = Array.isArray(body.CachesDeleted) ? body.CachesDeleted.map(String) : [];
      return { deleted, reclaimed: typeof body.SpaceReclaimed === 'number' ? body.SpaceReclaimed : 0 };
    } catch (error) {
      if (error instanceof EngineError) throw error;
      const what = ids.length === 1 ? `record ${ids[0]}` : `${ids.length} records`;
      throw new EngineError(`removing build-cache ${what}: ${engineMessage(error)}`, { cause: error });
    }
  }

  async imageLayers(id: string): Promise<{ digest: string; size: number }[]> {
    const image = this.docker.getImage(enc(id));
    const [inspect, history] = await Promise.all([
      this.read(() => image.inspect(), `inspecting image ${id}`),
      this.read(() => image.history() as Promise<unknown>, `reading the history of ${id}`),
    ]);
    return zipLayers(rootfsLayers(inspect), parseHistory(history));
  }

  untag(ref: string): Promise<WriteOutcome> {
    // By ID (or a bare hex prefix, which the engine also takes as an ID) this call would delete the image.
    if (isImageId(ref) || ref.startsWith('sha256:') || !/[:@]/.test(ref)) {
      return Promise.resolve({
        status: 'failed',
        message: `refusing to untag "${ref}": not a repo:tag or repo@digest reference`,
        transport: false,
      });
    }
    const run = () =>
      this.write(
        (d) => d.getImage(enc(ref)).remove({ noprune: true }) as Promise<unknown>,
        `untagging ${ref}`,
        doneFromDeleteResponse,
      );
    if (!this.podman) return run();
    // Podman (4.x) loses concurrent untags of one image: each answers "Untagged", yet the image's names are
    // written back from a stale copy and some tags return. One untag at a time (other calls still overlap).
    const result = this.podmanUntags.then(run);
    this.podmanUntags = result;
    return result;
  }

  deleteImage(id: string): Promise<WriteOutcome> {
    if (!isImageId(id)) {
      return Promise.resolve({
        status: 'failed',
        message: `refusing to delete "${id}": not a full image ID`,
        transport: false,
      });
    }
    return this.write(
      (d) => d.getImage(enc(normalizeId(id))).remove({ noprune: true }) as Promise<unknown>,
      `deleting ${id}`,
      doneFromDeleteResponse,
    );
  }

  removeContainer(id: string): Promise<WriteOutcome> {
    // No force (a running container stays) and no v (its volumes stay).
    return this.write(
      (d) => d.getContainer(enc(id)).remove() as Promise<unknown>,
      `removing container ${id}`,
      () => ({ status: 'done', deleted: [id], untagged: [] }),
    );
  }

  async events(since: Date, until: Date): Promise<EngineEvent[]> {
    // The engine streams until `until`; never ask for the future, which would hold the call open.
    const end = Math.min(until.getTime(), Date.now());
    if (since.getTime() >= end) return [];
    if (this.podman) return this.podmanEvents(since.getTime(), end);
    return this.readEvents({ since: (since.getTime() / 1000).toFixed(3), until: (end / 1000).toFixed(3) });
  }

  private readEvents(window: { since: string; until: string }): Promise<EngineEvent[]> {
    const query = eventsQuery({ ...window, filters: { type: ['container'] } });
    return this.read(async (d) => parseEvents(await readAll(await d.getEvents(query))), 'reading events');
  }

  /**
   * Podman (4.x) reads its event log until `until`, and stops as soon as that moment has passed, often before
   * reading anything: asked for a past `until` it answers nothing. Asked for one just ahead, it reads the log and
   * waits for that moment. It reads "s.fff" as seconds and fff nanoseconds, so times go with nine digits.
   */
  private async podmanEvents(sinceMs: number, endMs: number): Promise<EngineEvent[]> {
    const events = await this.readEvents({
      since: podmanTime(sinceMs),
      until: podmanTime(Date.now() + PODMAN_EVENTS_LEAD_MS),
    });
    return events.filter((e) => {
      const t = Date.parse(e.time);
      return t >= sinceMs && t <= endMs;
    });
  }

  async streamEvents(since: Date, onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    const from = this.podman ? podmanTime(since.getTime()) : (since.getTime() / 1000).toFixed(3);
    const query = eventsQuery({ since: from, filters: { type: ['container'] }, abortSignal: signal });
    // The engine must answer within the timeout; once it has, the stream may stay quiet for as long as nothing happens.
    const stream = await bounded(this.streams.getEvents(query), this.conn.timeoutMs, 'following events').catch(
      (error: unknown) => {
        if (signal.aborted) return null;
        throw readFailure(this.conn.target, error, 'following events');
      },
    );
    if (stream === null) return;
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      stream.on('data', (chunk: Buffer | string) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          try {
            for (const e of parseEvents(line)) onEvent(e);
          } catch {
            // One garbled event must not end the watch.
          }
        }
      });
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', (error: Error) =>
        signal.aborted ? resolve() : reject(readFailure(this.conn.target, error, 'following events')),
      );
    });
  }

  close(): void {
    this.conn.close();
  }
}
