import type { Engine, WriteOutcome } from '../engine/engine.js';
import type { PlanAction } from '../plan/types.js';
import { shortImageId } from '../report/table.js';
import type { ImageChecks } from './checks.js';
import { isLastReference } from './references.js';
import type { StepResult } from './types.js';
import { deleteFactsChanged } from './verify.js';

type Outcome = Pick<StepResult, 'status' | 'reason' | 'clear' | 'deleted'>;

const done = (reason = '', deleted?: string[]): Outcome => ({ status: 'done', reason, clear: true, deleted });
const skipped = (reason: string, clear: boolean): Outcome => ({ status: 'skipped', reason, clear });
const failed = (reason: string): Outcome => ({ status: 'failed', reason, clear: false });

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
    return failed(err instanceof Error ? err.message : String(err));
  }
}

async function removeContainer(engine: Engine, a: PlanAction): Promise<Outcome> {
  const out = await engine.removeContainer(a.containerId!);
  // After a transport error, list the containers to see whether the removal happened anyway.
  return classify(out, 'container already gone', async () => ((await engine.listContainers()).some((c) => c.id === a.containerId) ? null : 'container gone'));
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
    if (now === null) return skipped('reference already gone', true);
    if (now !== a.imageId) return skipped(`reference now points to image ${shortImageId(now)} (moved since planning)`, true);
    // It came back between the two looks: leave it to a later run rather than act on facts seen twice.
    return skipped('reference changed while checking it', false);
  }
  // Removing an image's last reference by name deletes the image: never do that. If the plan deletes the
  // image, its delete by ID removes this reference too.
  if (isLastReference(ref, image.repoTags, image.repoDigests)) {
    return ctx.deletePlanned
      ? skipped('left for the delete by ID: it is the last reference now', true)
      : skipped('it is the image\'s last reference now (others moved or were removed since planning); untagging it would delete the image', false);
  }
  const out = await engine.untag(ref);
  if (out.status === 'done' && out.deleted.length === 0) ctx.checks.untagged(a.imageId, [ref, ...out.untagged]);
  else ctx.checks.forget(a.imageId);
  return classify(out, 'reference already gone', async () => {
    const after = await engine.resolveReference(ref);
    return after === a.imageId ? null : 'reference gone';
  });
}

async function deleteImage(engine: Engine, a: PlanAction, ctx: StepContext): Promise<Outcome> {
  const child = ctx.removedWith(a.imageId);
  if (child !== null && (await ctx.checks.look(a.imageId, 0)) === null) {
    return done(`the engine removed it with ${shortImageId(child)} (it prunes untagged parents)`, [a.imageId]);
  }
  const image = await ctx.checks.look(a.imageId);
  if (image === null) return skipped('image already gone', true);
  const changed = deleteFactsChanged(a, image, ctx.allowed);
  if (changed) return skipped(changed, false);
  const out = await engine.deleteImage(a.imageId);
  ctx.checks.forget(a.imageId);
  return classify(out, 'image already gone', async () => ((await engine.inspectImage(a.imageId)) === null ? 'image gone' : null));
}

/**
 * 404: already gone (confirmed by looking again); 409: changed under us, skipped, never forced;
 * a transport error or timeout may have done the step: look before reporting it failed.
 */
async function classify(out: WriteOutcome, goneReason: string, happened: () => Promise<string | null>): Promise<Outcome> {
  const look = () => happened().catch(() => null);
  switch (out.status) {
    case 'done':
      return done('', out.deleted);
    case 'gone': {
      if ((await look()) !== null) return skipped(goneReason, true);
      return failed(`the engine said not found, yet it is still there: ${out.message}`);
    }
    case 'conflict':
      return skipped(`changed under us: ${out.message}`, false);
    case 'failed': {
      if (!out.transport) return failed(out.message);
      const confirmed = await look();
      return confirmed !== null ? done(`${confirmed} after a transport error (${out.message})`) : failed(out.message);
    }
  }
}
