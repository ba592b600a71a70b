import type { Engine, ImageRefs } from '../engine/engine.js';

/** How long one look at an image vouches for its references: the window in which a change can slip in. */
export const CHECK_FRESH_MS = 1_000;

interface Look {
  /** performance.now() when the inspect was sent: the facts are at least this old. */
  at: number;
  refs: Promise<ImageRefs | null>;
}

/**
 * The last-moment checks of one run's steps: each acts on facts at most CHECK_FRESH_MS old. The re-list right
 * before executing is the first look at every image; an image whose step comes later is inspected again, and
 * a look serves the image's next steps while fresh, kept current with what those steps did themselves. The
 * engine has no check-and-untag call, so any check leaves a window; this bounds it. Steps of one image run one at a time, so
 * each sees the references the previous one left (two untags racing could remove the last two names).
 */
export class ImageChecks {
  private readonly looks = new Map<string, Look>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly engine: Engine,
    private readonly freshMs = CHECK_FRESH_MS,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** A listing of the engine's images, sent at `at` (this.now()), is a look at every image it holds. */
  seed(images: readonly ImageRefs[], at: number): void {
    for (const i of images) {
      const refs: ImageRefs = { id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, parentId: i.parentId };
      this.looks.set(i.id, { at, refs: Promise.resolve(refs) });
    }
  }

  /** Runs `fn` after every earlier step of the same image has finished. */
  exclusive<T>(imageId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.queues.get(imageId) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const tail = mine.catch(() => undefined);
    this.queues.set(imageId, tail);
    void tail.then(() => {
      if (this.queues.get(imageId) === tail) this.queues.delete(imageId);
    });
    return mine;
  }

  /**
   * The image's references as the engine holds them now (at most `maxAgeMs` old, CHECK_FRESH_MS by default;
   * 0 always asks the engine), or null when it is gone.
   */
  async look(imageId: string, maxAgeMs = this.freshMs): Promise<ImageRefs | null> {
    const cached = this.looks.get(imageId);
    if (cached && maxAgeMs > 0 && this.now() - cached.at <= maxAgeMs) return cached.refs;
    const fresh: Look = { at: this.now(), refs: this.engine.inspectImage(imageId) };
    this.looks.set(imageId, fresh);
    fresh.refs.catch(() => this.forget(imageId));
    const refs = await fresh.refs;
    // Looked up by ID: a prefix or name match on another image is not this image.
    return refs !== null && refs.id === imageId ? refs : null;
  }

  /** Our own untag went through: the engine named what it removed (a repository's digests go with its last tag). */
  untagged(imageId: string, removed: readonly string[]): void {
    const cached = this.looks.get(imageId);
    if (!cached) return;
    const gone = new Set(removed);
    const refs = cached.refs.then((r) => (r === null ? null : { ...r, repoTags: r.repoTags.filter((t) => !gone.has(t)), repoDigests: r.repoDigests.filter((d) => !gone.has(d)) }));
    this.looks.set(imageId, { at: cached.at, refs });
  }

  /** The engine answered something unexpected about the image: the next step looks again. */
  forget(imageId: string): void {
    this.looks.delete(imageId);
  }
}
