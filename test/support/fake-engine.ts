import type {
  CachePruneOutcome,
  Engine,
  EngineDiskUsage,
  EngineEvent,
  ImageRefs,
  WriteOutcome,
} from '../../src/engine/engine.js';
import type { ContainerRecord, EngineIdentity, ImageRecord, Inventory } from '../../src/inventory/types.js';

/**
 * An in-memory Engine for testing the scheduling and outcome classification of applyPlan/runStep only.
 * It behaves as a Docker engine with the classic image store does: untag by name removes one reference, and with a repository's
 * last tag that repository's digests (the last reference deletes the image, unless something conflicts); delete by full ID is refused (409) while several references
 * remain, while child images exist or while a container (any state, image mounts too) uses the image;
 * removing a running/paused/restarting container is refused (409); anything unknown answers 404.
 * Everything that talks to a real engine is tested in test/integration.
 */

/** What a test can make one call do instead of (or before) its normal behaviour. */
export type Fault =
  /** The call times out: the change happened (or not) before the connection dropped. */
  | { kind: 'transport'; happened: boolean }
  /** The engine answers this, changing nothing. */
  | { kind: 'answer'; outcome: WriteOutcome }
  /** Someone else changes the engine right before this call is served. */
  | { kind: 'before'; run: () => void }
  /** A read fails (the engine went away). */
  | { kind: 'throw'; message: string };

export interface EngineCall {
  method: string;
  /** Every argument the call received (to prove no `force` or other option was ever passed). */
  args: unknown[];
  start: number;
  end: number | null;
}

const RUNNING = new Set(['running', 'paused', 'restarting']);
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
const repoOf = (ref: string) =>
  ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref.slice(0, ref.lastIndexOf(':'));
const refsOf = (i: ImageRecord) => [...i.repoTags, ...i.repoDigests];

/** moby's isSingleReference: at most one tag, and digests only of that tag's repository. */
function singleReference(i: ImageRecord): boolean {
  const refs = refsOf(i);
  if (refs.length <= 1) return true;
  if (i.repoTags.length > 1) return false;
  const repo = repoOf(i.repoTags[0] ?? i.repoDigests[0]!);
  return i.repoDigests.every((d) => repoOf(d) === repo);
}

export class FakeEngine implements Engine {
  readonly host = 'unix:///fake/docker.sock';
  images: ImageRecord[];
  containers: ContainerRecord[];
  readonly calls: EngineCall[] = [];
  /** Write calls in flight now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Milliseconds each call waits before being served (so concurrent steps really overlap). */
  delay: (method: string, arg: string) => number = () => 0;
  fault: (method: string, arg: string) => Fault | undefined = () => undefined;
  /** Behave as Podman: deleting an image also deletes its untagged parent once that has no child left. */
  prunesParents = false;
  private clock = 0;
  private readonly ident: EngineIdentity;

  constructor(inv: Pick<Inventory, 'images' | 'containers' | 'engine'>) {
    this.images = structuredClone(inv.images);
    this.containers = structuredClone(inv.containers);
    this.ident = { ...inv.engine, host: this.host };
  }

  identity(): Promise<EngineIdentity> {
    return Promise.resolve({ ...this.ident });
  }

  /** Calls made so far, of one method (optionally for one argument). */
  callsOf(method: string, arg?: string): EngineCall[] {
    return this.calls.filter((c) => c.method === method && (arg === undefined || c.args[0] === arg));
  }

  listImages(): Promise<ImageRecord[]> {
    return this.read('listImages', '', () => structuredClone(this.images));
  }

  listContainers(): Promise<ContainerRecord[]> {
    return this.read('listContainers', '', () => structuredClone(this.containers));
  }

  resolveReference(ref: string): Promise<string | null> {
    return this.read('resolveReference', ref, () => this.find(ref)?.id ?? null);
  }

  inspectImage(ref: string): Promise<ImageRefs | null> {
    return this.read('inspectImage', ref, () => {
      const i = this.find(ref);
      return i ? { id: i.id, repoTags: [...i.repoTags], repoDigests: [...i.repoDigests], parentId: i.parentId } : null;
    });
  }

  /**
   * As Docker's graph-driver store counts (a layer per stack, shared when two images use it). An image without
   * layer data is one layer of its own size.
   */
  diskUsage(): Promise<EngineDiskUsage | null> {
    return this.read('diskUsage', '', () => {
      const stacks = (i: ImageRecord) => {
        let key = '';
        return (i.layers ?? [{ digest: i.id, size: i.size }]).map((l) => ({
          key: (key += `/${l.digest}`),
          size: l.size,
        }));
      };
      // Like /system/df, untagged images with children (legacy-builder steps) are left out.
      const listed = this.images.filter(
        (i) => i.repoTags.length + i.repoDigests.length > 0 || !this.images.some((c) => c.parentId === i.id),
      );
      const users = new Map<string, number>();
      const bytes = new Map<string, number>();
      for (const i of listed) {
        for (const l of stacks(i)) {
          users.set(l.key, (users.get(l.key) ?? 0) + 1);
          bytes.set(l.key, l.size);
        }
      }
      const sharedSize = new Map(
        listed.map((i) => [i.id, stacks(i).reduce((s, l) => s + (users.get(l.key)! > 1 ? l.size : 0), 0)]),
      );
      const sizes = new Map(listed.map((i) => [i.id, i.size]));
      return { layersSize: [...bytes.values()].reduce((a, b) => a + b, 0), sharedSize, sizes, buildCache: [] };
    });
  }

  imageLayers(id: string): Promise<{ digest: string; size: number }[]> {
    return this.read('imageLayers', id, () => structuredClone(this.find(id)?.layers ?? []));
  }

  events(): Promise<EngineEvent[]> {
    return this.read('events', '', () => []);
  }

  streamEvents(_since: Date, _onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }

  close(): void {}

  untag(...args: unknown[]): Promise<WriteOutcome> {
    const ref = String(args[0]);
    return this.write('untag', args, () => {
      const i = this.images.find((x) => refsOf(x).includes(ref));
      if (!i) return { status: 'gone', message: `No such image: ${ref}` };
      // moby (image_delete.go): removing a repository's last tag also removes that repository's digests.
      const lastTagOfRepo = !ref.includes('@') && !i.repoTags.some((t) => t !== ref && repoOf(t) === repoOf(ref));
      const removed = [ref, ...(lastTagOfRepo ? i.repoDigests.filter((d) => repoOf(d) === repoOf(ref)) : [])];
      if (refsOf(i).some((r) => !removed.includes(r))) {
        for (const r of removed) this.dropRef(i, r);
        return { status: 'done', deleted: [], untagged: removed };
      }
      // The last reference by name: the engine deletes the image, so the image's conflicts apply.
      const user = this.containers.find((c) => this.uses(c, i.id));
      if (user)
        return {
          status: 'conflict',
          message: `conflict: unable to remove repository reference "${ref}" (must force) - container ${short(user.id)} is using its referenced image ${short(i.id)}`,
        };
      const conflict = this.hardConflict(i);
      if (conflict) return conflict;
      this.images = this.images.filter((x) => x !== i);
      return { status: 'done', deleted: [i.id], untagged: removed };
    });
  }

  deleteImage(...args: unknown[]): Promise<WriteOutcome> {
    const id = String(args[0]);
    return this.write('deleteImage', args, () => {
      const i = this.images.find((x) => x.id === id);
      if (!i) return { status: 'gone', message: `No such image: ${id}` };
      const conflict = this.hardConflict(i);
      if (conflict) return conflict;
      if (!singleReference(i))
        return {
          status: 'conflict',
          message: `conflict: unable to delete ${short(id)} (must be forced) - image is referenced in multiple repositories`,
        };
      const stopped = this.containers.find((c) => this.uses(c, id));
      if (stopped)
        return {
          status: 'conflict',
          message: `conflict: unable to delete ${short(id)} (must be forced) - image is being used by stopped container ${short(stopped.id)}`,
        };
      this.images = this.images.filter((x) => x !== i);
      const deleted = [id];
      // Podman ignores noprune: an untagged parent left without children goes too, and up the chain.
      for (
        let p = this.images.find((x) => x.id === i.parentId);
        this.prunesParents && p && refsOf(p).length === 0 && !this.images.some((x) => x.parentId === p!.id);
      ) {
        const gone = p;
        this.images = this.images.filter((x) => x !== gone);
        deleted.push(gone.id);
        p = this.images.find((x) => x.id === gone.parentId);
      }
      return { status: 'done', deleted, untagged: refsOf(i) };
    });
  }

  removeContainer(...args: unknown[]): Promise<WriteOutcome> {
    const id = String(args[0]);
    return this.write('removeContainer', args, () => {
      const c = this.containers.find((x) => x.id === id);
      if (!c) return { status: 'gone', message: `No such container: ${id}` };
      if (RUNNING.has(c.state))
        return {
          status: 'conflict',
          message: `You cannot remove a ${c.state} container ${id}. Stop the container before attempting removal or force remove`,
        };
      this.containers = this.containers.filter((x) => x !== c);
      return { status: 'done', deleted: [id], untagged: [] };
    });
  }

  insecureRegistries(): string[] {
    return [];
  }

  /** The fake keeps no build cache: the planner's tests give records as plain data. */
  pruneBuildCacheRecords(ids: string[]): Promise<CachePruneOutcome> {
    return Promise.reject(new Error(`no build-cache records ${ids.join(', ')} in the fake engine`));
  }

  /** By full ID or by reference, as the engine resolves a name. */
  private find(ref: string): ImageRecord | undefined {
    return this.images.find((i) => i.id === ref) ?? this.images.find((i) => refsOf(i).includes(ref));
  }

  private uses(c: ContainerRecord, id: string): boolean {
    return c.imageId === id || c.mountImageIds.includes(id);
  }

  private hardConflict(i: ImageRecord): WriteOutcome | null {
    if (this.images.some((x) => x.parentId === i.id))
      return {
        status: 'conflict',
        message: `conflict: unable to delete ${short(i.id)} (cannot be forced) - image has dependent child images`,
      };
    const running = this.containers.find((c) => this.uses(c, i.id) && RUNNING.has(c.state));
    if (running)
      return {
        status: 'conflict',
        message: `conflict: unable to delete ${short(i.id)} (cannot be forced) - image is being used by running container ${short(running.id)}`,
      };
    return null;
  }

  private dropRef(i: ImageRecord, ref: string): void {
    i.repoTags = i.repoTags.filter((r) => r !== ref);
    i.repoDigests = i.repoDigests.filter((r) => r !== ref);
  }

  private async serve<T>(method: string, args: unknown[], fn: (fault: Fault | undefined) => T): Promise<T> {
    const call: EngineCall = { method, args, start: ++this.clock, end: null };
    this.calls.push(call);
    const arg = typeof args[0] === 'string' ? args[0] : '';
    const wait = this.delay(method, arg);
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    const fault = this.fault(method, arg);
    if (fault?.kind === 'before') fault.run();
    try {
      return fn(fault);
    } finally {
      call.end = ++this.clock;
    }
  }

  private read<T>(method: string, arg: string, fn: () => T): Promise<T> {
    return this.serve(method, arg === '' ? [] : [arg], (fault) => {
      if (fault?.kind === 'throw') throw new Error(`${fault.message} (${method})`);
      return fn();
    });
  }

  private async write(method: string, args: unknown[], fn: () => WriteOutcome): Promise<WriteOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.serve(method, args, (fault): WriteOutcome => {
        if (fault?.kind === 'answer') return fault.outcome;
        if (fault?.kind === 'transport') {
          if (fault.happened) fn();
          return { status: 'failed', message: 'socket hang up', transport: true };
        }
        return fn();
      });
    } finally {
      this.inFlight--;
    }
  }
}
