import type { Engine, WriteOutcome } from '../engine/engine.js';
import type { PlanAction } from '../plan/types.js';
import type { ImageChecks } from './checks.js';
import type { StepReason } from './reasons.js';
import { isLastReference } from './references.js';
import type { StepResult } from './types.js';
import { deleteFactsChanged } from './verify.js';

type Outcome = Pick<StepResult, 'status' | 'reason' | 'clear' | 'deleted'>;

const done = (reason: StepReason | null = null, deleted?: string[]): Outcome => ({
  status: 'done',
  reason,
  clear: true,
  deleted,
});
const skipped = (reason: StepReason, clear: boolean): Outcome => ({ status: 'skipped', reason, clear });
const failed = (reason: StepReason): Outcome => ({ status: 'failed', reason, clear: false });
const unknown = (message: string, check: unknown): Outcome => ({
  status: 'unknown',
  reason: { code: 'outcome-unknown', message, check: check instanceof Error ? check.message : String(check) },
  clear: false,
});

export interface StepContext {
  /** References the plan may remove from this image. */
  allowed: (ref: string) => boolean;
  /** The plan deletes this image by ID later. */
  deletePlanned: boolean;
  /** The run's looks at its images (one inspect serves an image's steps while fresh). */
  checks: ImageChecks;
  /** The planned image whose delete the engine said removed this one too (Podman prunes untagged parents), if any. */
  removedWith: (imageId: string) => string | null;
}

/** Executes one plan step with its last-moment checks; outcomes are values, engine errors never escape. */
export async function runStep(engine: Engine, action: PlanAction, ctx: StepContext): Promise<Outcome> {
  try {
    if (action.type === 'remove-container') return await removeContainer(engine, action);
    // The caller runs one image's steps one at a time: each checks the references the previous one left.
    if (action.type === 'untag') return await untag(engine, action, ctx);
    return await deleteImage(engine, action, ctx);
  } catch (err) {
    // A read failed (e.g. the engine stopped): the step's state is unknown.
    return failed({ code: 'check-failed', message: err instanceof Error ? err.message : String(err) });
  }
}

async function removeContainer(engine: Engine, a: PlanAction): Promise<Outcome> {
  const out = await engine.removeContainer(a.containerId!);
  // After a transport error, list the containers to see whether the removal happened anyway.
  return classify(
    out,
    { code: 'container-gone' },
    async () => !(await engine.listContainers()).some((c) => c.id === a.containerId),
  );
}

async function untag(engine: Engine, a: PlanAction, ctx: StepContext): Promise<Outcome> {
  const ref = a.ref!;
  // Untag by name only while the name still points at the planned image: a tag can move at any time.
  // A name points at exactly one image, so the image's own references say where it points. A recent look
  // serves an image the plan deletes anyway; an image that stays is looked at afresh, since removing its
  // last name by mistake would delete it.
  const image = await ctx.checks.look(a.imageId, ctx.deletePlanned ? undefined : 0);
  if (image === null || ![...image.repoTags, ...image.repoDigests].includes(ref)) {
    ctx.checks.forget(a.imageId);
    const now = await engine.resolveReference(ref);
    if (now === null) return skipped({ code: 'reference-gone' }, true);
    if (now !== a.imageId) return skipped({ code: 'reference-moved', imageId: now }, true);
    // It came back between the two looks: leave it to a later run rather than act on facts seen twice.
    return skipped({ code: 'reference-changed' }, false);
  }
  // Removing an image's last reference by name deletes the image: never do that. If the plan deletes the
  // image, its delete by ID removes this reference too.
  if (isLastReference(ref, image.repoTags, image.repoDigests)) {
    return ctx.deletePlanned ? skipped({ code: 'left-for-delete' }, true) : skipped({ code: 'last-reference' }, false);
  }
  const out = await engine.untag(ref);
  if (out.status === 'done' && out.deleted.length === 0) ctx.checks.untagged(a.imageId, [ref, ...out.untagged]);
  else ctx.checks.forget(a.imageId);
  return classify(out, { code: 'reference-gone' }, async () => (await engine.resolveReference(ref)) !== a.imageId);
}

async function deleteImage(engine: Engine, a: PlanAction, ctx: StepContext): Promise<Outcome> {
  const child = ctx.removedWith(a.imageId);
  if (child !== null && (await ctx.checks.look(a.imageId, 0)) === null) {
    return done({ code: 'removed-with', imageId: child }, [a.imageId]);
  }
  const image = await ctx.checks.look(a.imageId);
  if (image === null) return skipped({ code: 'image-gone' }, true);
  const changed = deleteFactsChanged(a, image, ctx.allowed);
  if (changed) return skipped(changed, false);
  const out = await engine.deleteImage(a.imageId);
  ctx.checks.forget(a.imageId);
  return classify(out, { code: 'image-gone' }, async () => (await engine.inspectImage(a.imageId)) === null);
}

/**
 * 404: already gone (confirmed by looking again); 409: changed under us, skipped, never forced;
 * a transport error or timeout may have done the step: look before reporting it failed. `happened` says
 * whether the step's goal holds now. When that look fails too, the outcome is unknown, not failed: the
 * engine may well have done it, and the next run's listing settles it.
 */
async function classify(out: WriteOutcome, gone: StepReason, happened: () => Promise<boolean>): Promise<Outcome> {
  const look = () =>
    happened().then(
      (holds) => ({ holds }),
      (error: unknown) => ({ holds: null, error }),
    );
  switch (out.status) {
    case 'done':
      return done(null, out.deleted);
    case 'gone': {
      const seen = await look();
      if (seen.holds === null) return unknown(out.message, seen.error);
      if (seen.holds) return skipped(gone, true);
      return failed({ code: 'not-found-but-present', message: out.message });
    }
    case 'conflict':
      return skipped({ code: 'conflict', message: out.message }, false);
    case 'failed': {
      if (!out.transport) return failed({ code: 'engine-error', message: out.message, transport: false });
      const seen = await look();
      if (seen.holds === null) return unknown(out.message, seen.error);
      if (seen.holds) return done({ code: 'confirmed-after-transport-error', message: out.message });
      return failed({ code: 'engine-error', message: out.message, transport: true });
    }
  }
}
