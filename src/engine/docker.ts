/** The Engine implementation over the Docker Engine API (Docker, and Podman's Docker-compatible API). */
import { EngineError } from '../errors.js';
import type { ContainerRecord, EngineIdentity, ImageRecord } from '../inventory/types.js';
import { makeTransport, poolsFor, type Pools, readFailure, unavailable } from './client.js';
import type { Engine, EngineDiskUsage, EngineEvent, ImageRefs, WriteOutcome } from './engine.js';
import { targetFor, type ConnectionSettings, type EngineTarget } from './host.js';
import { compareApi, mapIdentity, negotiateApiVersion } from './identity.js';
import { parseHistory, rootfsLayers, zipLayers } from './layers.js';
import { isImageId, mapContainer, mapDiskUsage, mapImages, mapInspectRefs, mountImageRefs, normalizeId, parseEvents } from './map.js';
import { doneFromDeleteResponse, engineMessage, outcomeFromError, statusOf } from './outcome.js';
import { bodyText, type Call, type Transport } from './request.js';
import { asArray, asObj, isObj, str } from './shape.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
const INSPECT_CONCURRENCY = 4;

export interface ConnectOptions {
  /** --host URL; else env.DOCKER_HOST; else the local socket. */
  host?: string;
  env: NodeJS.ProcessEnv;
  /** Bound on every call (default 60 s). */
  timeoutMs?: number;
  /** --context and --tls-* from the command line (host.ts). */
  connection?: ConnectionSettings;
}

export async function connectEngine(opts: ConnectOptions): Promise<Engine> {
  const target = targetFor(opts.host, opts.env, opts.connection);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pools = poolsFor(target);
  try {
    const unversioned = makeTransport(target, pools, undefined);
    // /info's fields that identify the engine are the same at every API version: asked for alongside /version.
    const infoCall = unversioned.call({ method: 'GET', path: '/info', timeoutMs });
    infoCall.catch(() => undefined);
    let version: unknown;
    try {
      // Unversioned: the one call whose shape is the same at every API version.
      version = await unversioned.call({ method: 'GET', path: '/version', timeoutMs });
    } catch (error) {
      if (statusOf(error) === null) throw unavailable(target, error);
      throw new EngineError(`${target.host} answered /version with ${engineMessage(error)}: is it a Docker API?`, {
        cause: error,
      });
    }
    const apiVersion = negotiateApiVersion(version);
    const docker = makeTransport(target, pools, apiVersion);
    const info = await infoCall.catch((error: unknown) => {
      throw readFailure(target, error, 'reading /info');
    });
    const identity = mapIdentity(version, info, apiVersion, target.host);
    return new DockerEngine(docker, { target, pools, identity, timeoutMs });
  } catch (error) {
    pools.destroy();
    throw error;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const enc = encodeURIComponent;

/** How far ahead of now Podman is asked to read its event log until (the call waits that long). */
const PODMAN_EVENTS_LEAD_MS = 250;

/** Unix time as "seconds.nanoseconds" (nine digits), which Podman and Docker both read exactly. */
function podmanTime(ms: number): string {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String((whole % 1000) * 1_000_000).padStart(9, '0')}`;
}

interface Connection {
  target: EngineTarget;
  pools: Pools;
  identity: EngineIdentity;
  timeoutMs: number;
}

class DockerEngine implements Engine {
  readonly host: string;
  /** The last Podman untag in flight: the next one waits for it (write() never rejects). */
  private podmanUntags: Promise<WriteOutcome> = Promise.resolve({ status: 'done', deleted: [], untagged: [] });

  constructor(
    private readonly docker: Transport,
    private readonly conn: Connection,
  ) {
    this.host = conn.target.host;
  }

  private get timeoutMs(): number {
    return this.conn.timeoutMs;
  }

  private get podman(): boolean {
    return this.conn.identity.kind === 'podman';
  }

  private async read(c: Omit<Call, 'timeoutMs'>, what: string): Promise<unknown> {
    try {
      return await this.docker.call({ ...c, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw readFailure(this.conn.target, error, what);
    }
  }

  private async write(c: Omit<Call, 'timeoutMs'>, done: (body: unknown) => WriteOutcome): Promise<WriteOutcome> {
    try {
      return done(await this.docker.call({ ...c, timeoutMs: this.timeoutMs }));
    } catch (error) {
      return outcomeFromError(error, this.conn.identity.kind);
    }
  }

  identity(): Promise<EngineIdentity> {
    return Promise.resolve({ ...this.conn.identity });
  }

  async listImages(): Promise<ImageRecord[]> {
    const query: Call['query'] = { all: 1 };
    if (compareApi(this.conn.identity.apiVersion, '1.42') >= 0) query['shared-size'] = 1;
    const images = mapImages(await this.read({ method: 'GET', path: '/images/json', query }, 'listing images'));
    // Podman (4.x) answers SharedSize 0 even for images that share layers: unknown, not zero.
    return this.podman ? images.map((i) => ({ ...i, sharedSize: null })) : images;
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const list = asArray(
      await this.read({ method: 'GET', path: '/containers/json', query: { all: 1 } }, 'listing containers'),
      'GET /containers/json',
    );
    return mapLimit(list, INSPECT_CONCURRENCY, async (summary) => {
      const id = str(asObj(summary, 'container'), 'Id', 'container');
      let inspect: unknown = null;
      try {
        inspect = await this.docker.call({ method: 'GET', path: `/containers/${enc(id)}/json`, timeoutMs: this.timeoutMs });
      } catch (error) {
        // Removed since the list: keep it with unknown times, which protects its image for this run.
        if (statusOf(error) !== 404) throw readFailure(this.conn.target, error, `inspecting container ${id}`);
      }
      const record = mapContainer(summary, inspect, `container ${id.slice(0, 12)}`);
      const mounts = isObj(summary) && summary.Mounts !== undefined ? summary.Mounts : isObj(inspect) ? inspect.Mounts : [];
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
      body = await this.docker.call({ method: 'GET', path: `/images/${enc(ref)}/json`, timeoutMs: this.timeoutMs });
    } catch (error) {
      // 404: points nowhere; 400: not a valid reference, so it points nowhere either.
      if (statusOf(error) === 404 || statusOf(error) === 400) return null;
      throw readFailure(this.conn.target, error, `inspecting ${ref}`);
    }
    return mapInspectRefs(body);
  }

  async diskUsage(): Promise<EngineDiskUsage | null> {
    // Podman's /system/df is a placeholder (LayersSize 0, SharedSize 0 whatever is stored): none is better.
    if (this.podman) return null;
    try {
      // Images only (API 1.42+): otherwise df also sizes every container's writable layer and every volume,
      // which takes long on a busy host; LayersSize comes with the images.
      const query: Call['query'] = compareApi(this.conn.identity.apiVersion, '1.42') >= 0 ? { type: 'image' } : undefined;
      return mapDiskUsage(await this.docker.call({ method: 'GET', path: '/system/df', query, timeoutMs: this.timeoutMs }));
    } catch {
      // Optional: without it the estimate falls back to image sizes.
      return null;
    }
  }

  async imageLayers(id: string): Promise<{ digest: string; size: number }[]> {
    const [inspect, history] = await Promise.all([
      this.read({ method: 'GET', path: `/images/${enc(id)}/json` }, `inspecting image ${id}`),
      this.read({ method: 'GET', path: `/images/${enc(id)}/history` }, `reading the history of ${id}`),
    ]);
    return zipLayers(rootfsLayers(inspect), parseHistory(history));
  }

  untag(ref: string): Promise<WriteOutcome> {
    // By ID (or a bare hex prefix, which the engine also takes as an ID) this call would delete the image.
    if (isImageId(ref) || ref.startsWith('sha256:') || !/[:@]/.test(ref)) {
      return Promise.resolve({ status: 'failed', message: `refusing to untag "${ref}": not a repo:tag or repo@digest reference`, transport: false });
    }
    const run = () => this.write({ method: 'DELETE', path: `/images/${enc(ref)}`, query: { noprune: 1 } }, doneFromDeleteResponse);
    if (!this.podman) return run();
    // Podman (4.x) loses concurrent untags of one image: each answers "Untagged", yet the image's names are
    // written back from a stale copy and some tags return. One untag at a time (other calls still overlap).
    const result = this.podmanUntags.then(run);
    this.podmanUntags = result;
    return result;
  }

  deleteImage(id: string): Promise<WriteOutcome> {
    if (!isImageId(id)) {
      return Promise.resolve({ status: 'failed', message: `refusing to delete "${id}": not a full image ID`, transport: false });
    }
    return this.write({ method: 'DELETE', path: `/images/${enc(normalizeId(id))}`, query: { noprune: 1 } }, doneFromDeleteResponse);
  }

  removeContainer(id: string): Promise<WriteOutcome> {
    // No force (a running container stays) and no v (its volumes stay).
    return this.write({ method: 'DELETE', path: `/containers/${enc(id)}` }, () => ({ status: 'done', deleted: [id], untagged: [] }));
  }

  async events(since: Date, until: Date): Promise<EngineEvent[]> {
    // The engine streams until `until`; never ask for the future, which would hold the call open.
    const end = Math.min(until.getTime(), Date.now());
    if (since.getTime() >= end) return [];
    if (this.podman) return this.podmanEvents(since.getTime(), end);
    const query = { since: (since.getTime() / 1000).toFixed(3), until: (end / 1000).toFixed(3), filters: { type: ['container'] } };
    return parseEvents(bodyText(await this.read({ method: 'GET', path: '/events', query }, 'reading events')));
  }

  /**
   * Podman (4.x) reads its event log until `until`, and stops as soon as that moment has passed, often before
   * reading anything: asked for a past `until` it answers nothing. Asked for one just ahead, it reads the log and
   * waits for that moment. It reads "s.fff" as seconds and fff nanoseconds, so times go with nine digits.
   */
  private async podmanEvents(sinceMs: number, endMs: number): Promise<EngineEvent[]> {
    const query = { since: podmanTime(sinceMs), until: podmanTime(Date.now() + PODMAN_EVENTS_LEAD_MS), filters: { type: ['container'] } };
    const events = parseEvents(bodyText(await this.read({ method: 'GET', path: '/events', query }, 'reading events')));
    return events.filter((e) => {
      const t = Date.parse(e.time);
      return t >= sinceMs && t <= endMs;
    });
  }

  async streamEvents(since: Date, onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    const from = this.podman ? podmanTime(since.getTime()) : (since.getTime() / 1000).toFixed(3);
    const options = { since: from, filters: JSON.stringify({ type: ['container'] }) };
    const stream = await this.docker.stream('/events', options, signal, this.timeoutMs).catch((error: unknown) => {
      throw readFailure(this.conn.target, error, 'following events');
    });
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      const stop = () => {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        resolve();
      };
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
      stream.on('close', () => signal.removeEventListener('abort', stop));
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
      stream.on('error', (error: Error) => (signal.aborted ? resolve() : reject(readFailure(this.conn.target, error, 'following events'))));
    });
  }

  close(): void {
    this.conn.pools.destroy();
  }
}
