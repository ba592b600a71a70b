import type { Engine, WriteOutcome } from '../engine/engine.js';
import type { PlanAction } from '../plan/types.js';
import { shortImageId } from '../report/table.js';
import type { StepResult } from './types.js';

type Outcome = Pick<StepResult, 'status' | 'reason' | 'clear' | 'deleted'>;

const done = (reason = '', deleted?: string[]): Outcome => ({ status: 'done', reason, clear: true, deleted });
const skipped = (reason: string, clear: boolean): Outcome => ({ status: 'skipped', reason, clear });
const failed = (reason: string): Outcome => ({ status: 'failed', reason, clear: false });

/** Executes one plan step with its last-moment checks; outcomes are values, engine errors never escape. */
export async function runStep(engine: Engine, action: PlanAction, allowedRefs: ReadonlySet<string>): Promise<Outcome> {
  try {
    if (action.type === 'remove-container') return await removeContainer(engine, action);
    if (action.type === 'untag') return await untag(engine, action);
    return await deleteImage(engine, action, allowedRefs);
  } catch (err) {
    // A read failed (e.g. the engine stopped): the step's state is unknown.
    return failed(err instanceof Error ? err.message : String(err));
  }
}

async function removeContainer(engine: Engine, a: PlanAction): Promise<Outcome> {
  const out = await engine.removeContainer(a.containerId!);
  // A container 404 is unambiguous (IDs are never reused): no need to look again.
  return classify(out, 'container already gone', null);
}

async function untag(engine: Engine, a: PlanAction): Promise<Outcome> {
  const ref = a.ref!;
  // Untag by name only while the name still points at the planned image: a tag can move at any time.
  const now = await engine.resolveReference(ref);
  if (now === null) return skipped('reference already gone', true);
  if (now !== a.imageId) return skipped(`reference now points to image ${shortImageId(now)} (moved since planning)`, true);
  const out = await engine.untag(ref);
  return classify(out, 'reference already gone', async () => {
    const after = await engine.resolveReference(ref);
    return after === a.imageId ? null : 'reference gone';
  });
}

async function deleteImage(engine: Engine, a: PlanAction, allowedRefs: ReadonlySet<string>): Promise<Outcome> {
  const image = await engine.inspectImage(a.imageId);
  if (image === null || image.id !== a.imageId) return skipped('image already gone', true);
  const extra = [...image.repoTags, ...image.repoDigests].filter((r) => !allowedRefs.has(r));
  if (extra.length > 0) return skipped(`image has references the plan did not name: ${extra.join(', ')}`, false);
  const out = await engine.deleteImage(a.imageId);
  return classify(out, 'image already gone', async () => ((await engine.inspectImage(a.imageId)) === null ? 'image gone' : null));
}

/**
 * 404: already gone (confirmed by looking again); 409: changed under us, skipped, never forced;
 * a transport error or timeout may have done the step: look before reporting it failed.
 */
async function classify(out: WriteOutcome, goneReason: string, happened: (() => Promise<string | null>) | null): Promise<Outcome> {
  const look = async () => (happened ? happened().catch(() => null) : null);
  switch (out.status) {
    case 'done':
      return done('', out.deleted);
    case 'gone': {
      if (!happened || (await look()) !== null) return skipped(goneReason, true);
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
