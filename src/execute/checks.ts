import type { Engine, ImageRefs } from '../engine/engine.js';
import { EngineError, EngineUnavailable } from '../errors.js';

/** How long one look at an image vouches for its references: the window in which a change can slip in. */
export const CHECK_FRESH_MS = 1_000;

/**
 * One image listing costs about as much as inspecting this many of the images it lists (measured on dockerd:
 * ~0.05 ms per listed image against 1-3 ms per inspect). When more images than that still wait for a step,
 * one listing refreshes them all more cheaply than an inspect each.
 */
export const LISTED_PER_INSPECT = 20;

interface Look {
  /** performance.now() when the request was sent: the facts are at least this old. */
  at: number;
  refs: Promise<ImageRefs | null>;
}

/**
 * The last-moment checks of one run's steps: each acts on facts at most CHECK_FRESH_MS old. The re-list right
 * before executing is the first look at every image; a step that comes later looks again, by one inspect of
 * its image, or by a new listing shared by all images when many still wait (LISTED_PER_INSPECT). A look serves
 * the image's next steps while fresh, kept current with what those steps did themselves. The engine has no
 * check-and-untag call, so any check leaves a window; this bounds it. The caller runs one image's steps one at
 * a time (applyPlan's task keys), so each sees the references the previous one left (two untags racing could
 * remove the last two names).
 */
export class ImageChecks {
  private readonly looks = new Map<string, Look>();
  /** Steps still to run, per image. */
  private readonly waiting = new Map<string, number>();
  /** When our own last write to an image finished: a listing sent earlier does not speak for it. */
  private readonly wroteAt = new Map<string, number>();
  private listed = 0;
  private listing: Promise<void> | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly freshMs = CHECK_FRESH_MS,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** A listing of the engine's images, sent at `at` (this.now()), is a look at every image it holds. */
  seed(images: readonly ImageRefs[], at: number): void {
    this.listed = images.length;
    const present = new Set<string>();
    for (const i of images) {
      present.add(i.id);
      if ((this.wroteAt.get(i.id) ?? -Infinity) >= at) continue;
      const refs: ImageRefs = { id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, parentId: i.parentId };
      this.looks.set(i.id, { at, refs: Promise.resolve(refs) });
    }
    // An image the listing does not hold is gone (as far as a listing sent at `at` knows).
    for (const id of this.waiting.keys()) {
      if (!present.has(id) && (this.wroteAt.get(id) ?? -Infinity) < at)
        this.looks.set(id, { at, refs: Promise.resolve(null) });
    }
  }

  /** One more step of this image will look at it (so a shared listing can pay off). */
  expect(imageId: string): void {
    this.waiting.set(imageId, (this.waiting.get(imageId) ?? 0) + 1);
  }

  /** A step of this image finished (done, skipped or blocked). */
  settled(imageId: string): void {
    const n = (this.waiting.get(imageId) ?? 0) - 1;
    if (n > 0) this.waiting.set(imageId, n);
    else this.waiting.delete(imageId);
  }

  /**
   * The image's references as the engine holds them now (at most `maxAgeMs` old, CHECK_FRESH_MS by default;
   * 0 always inspects the image), or null when it is gone.
   */
  async look(imageId: string, maxAgeMs = this.freshMs): Promise<ImageRefs | null> {
    const fresh = (l: Look | undefined): l is Look => l !== undefined && maxAgeMs > 0 && this.now() - l.at <= maxAgeMs;
    let cached = this.looks.get(imageId);
    if (fresh(cached)) return cached.refs;
    if (maxAgeMs > 0 && this.listed > 0 && this.waiting.size * LISTED_PER_INSPECT >= this.listed) {
      try {
        await this.relist();
        cached = this.looks.get(imageId);
        if (fresh(cached)) return cached.refs;
      } catch {
        // Podman's listing fails (500) while images it lists are being deleted: inspect one by one from now on.
        this.listed = 0;
      }
    }
    const look: Look = { at: this.now(), refs: this.inspect(imageId) };
    this.looks.set(imageId, look);
    look.refs.catch(() => this.forget(imageId));
    const refs = await look.refs;
    // Looked up by ID: a prefix or name match on another image is not this image.
    return refs !== null && refs.id === imageId ? refs : null;
  }

  /**
   * Podman answers a read with 500 while an image it relates to is being deleted ("reading image …: image not
   * known"): such an answer is asked again, twice, shortly after. A read never changes anything.
   */
  private async inspect(imageId: string): Promise<ImageRefs | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.engine.inspectImage(imageId);
      } catch (error) {
        if (attempt === 3 || !(error instanceof EngineError) || error instanceof EngineUnavailable) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** One listing at a time, shared by every step that waits for it. */
  private relist(): Promise<void> {
    if (!this.listing) {
      const at = this.now();
      this.listing = this.engine
        .listImages()
        .then((images) => this.seed(images, at))
        .finally(() => (this.listing = null));
    }
    return this.listing;
  }

  /** Our own untag went through: the engine named what it removed (a repository's digests go with its last tag). */
  untagged(imageId: string, removed: readonly string[]): void {
    this.wroteAt.set(imageId, this.now());
    const cached = this.looks.get(imageId);
    if (!cached) return;
    const gone = new Set(removed);
    const refs = cached.refs.then((r) =>
      r === null
        ? null
        : {
            ...r,
            repoTags: r.repoTags.filter((t) => !gone.has(t)),
            repoDigests: r.repoDigests.filter((d) => !gone.has(d)),
          },
    );
    this.looks.set(imageId, { at: cached.at, refs });
  }

  /** The engine answered something unexpected about the image, or we deleted it: the next step looks again. */
  forget(imageId: string): void {
    this.wroteAt.set(imageId, this.now());
    this.looks.delete(imageId);
  }
}
