import type { Engine, EngineDiskUsage } from '../engine/engine.js';
import { PlanRefused } from '../errors.js';
import type { ContainerRecord, EngineIdentity, ImageRecord } from '../inventory/types.js';
import type { Plan, PlanAction } from '../plan/types.js';
import { formatDuration } from '../policy/units.js';
import { CHECK_FRESH_MS, ImageChecks } from './checks.js';
import { runGraph, type Task } from './graph.js';
import { runStep } from './steps.js';
import type { StopCause } from './reasons.js';
import { removeBuildCache, type CacheStepResult } from './build-cache.js';
import type { ApplyReport, StepResult } from './types.js';
import { plannedReferences } from './references.js';
import { verifyPlan } from './verify.js';

export interface ApplyOptions {
  concurrency: number;
  clock: () => number;
  /** How old the facts a step acts on may be (default CHECK_FRESH_MS); 0 inspects before every step. */
  checkFreshMs?: number;
  onStep?: (result: StepResult, finished: number, total: number) => void;
  /** A build-cache removal ended. */
  onCacheStep?: (result: CacheStepResult) => void;
  /** A step is about to act on the engine (after its checks against the listing). */
  onStart?: (action: PlanAction, index: number) => void;
  /** The listing the plan was just made from: while fresh, it is the re-list before executing. */
  listing?: Listing;
  /** Asked before each step starts: a cause stops the run (steps under way finish, the rest are not started). */
  stop?: () => StopCause | null;
  /** Steps (plan indexes) the policy's current plan does not hold: skipped, never run. */
  notCurrent?: ReadonlySet<number>;
}

export interface Listing {
  images: ImageRecord[];
  containers: ContainerRecord[];
  /** performance.now() before the listing was asked for: its facts are at least this old. */
  at: number;
  /** The engine's disk accounting read with it, before any step (null: none). */
  diskUsage: EngineDiskUsage | null;
}

/** Refuses (exit 3) a plan that exceeds a limit, belongs to another engine, or is too old. */
export function admitPlan(plan: Plan, engine: EngineIdentity, now: number, maxAgeMs: number | null): void {
  if (plan.refused) {
    const { reason, deletes, images, limit } = plan.refused;
    const over =
      reason === 'max-deletions' ? `limits.maxDeletions (${limit})` : `limits.maxDeletionsPercent (${limit}%)`;
    throw new PlanRefused(`the plan is refused: it deletes ${deletes} of ${images} images, more than ${over}`);
  }
  if (plan.engine.key !== engine.key) {
    throw new PlanRefused(
      `the plan belongs to another engine (${plan.engine.name} at ${plan.engine.host}, key ${plan.engine.key}); this is ${engine.name} at ${engine.host} (key ${engine.key})`,
    );
  }
  const inconsistent = inconsistency(plan);
  if (inconsistent !== null) throw new PlanRefused(`the plan is refused: ${inconsistent}; make a new one`);
  const age = now - Date.parse(plan.createdAt);
  // A clock a minute ahead is a clock; more is a plan edited or made elsewhere, which no age limit would catch.
  if (age < -60_000)
    throw new PlanRefused(`the plan is dated ${plan.createdAt}, in the future: it is refused; make a new one`);
  if (maxAgeMs !== null && age > maxAgeMs) {
    throw new PlanRefused(
      `the plan is ${formatDuration(age)} old, older than --max-plan-age ${formatDuration(maxAgeMs)}: make a new one`,
    );
  }
}

/**
 * Why a plan does not hold together, or null. A saved plan is a file anyone with access may edit: a delete of an
 * image the same plan keeps, a container removal its policy does not allow, or a summary that does not count its
 * own steps, means it is not what was reviewed.
 */
function inconsistency(plan: Plan): string | null {
  const kept = new Set(plan.kept.map((k) => k.imageId));
  const keptDeleted = plan.actions.find((a) => a.type === 'delete' && kept.has(a.imageId));
  if (keptDeleted) return `it deletes image ${keptDeleted.imageId}, which it also keeps`;
  const removal = plan.actions.find((a) => a.type === 'remove-container');
  if (removal && plan.policy.stoppedContainers !== 'remove')
    return `it removes container ${removal.containerId}, but the policy it records protects stopped containers`;
  const count = (type: PlanAction['type']) => plan.actions.filter((a) => a.type === type).length;
  const counted: [string, number, number][] = [
    ['deletes', plan.summary.deletes, count('delete')],
    ['untags', plan.summary.untags, count('untag')],
    ['container removals', plan.summary.removeContainers, count('remove-container')],
    ['kept images', plan.summary.kept, plan.kept.length],
  ];
  for (const [what, said, is] of counted)
    if (said !== is) return `its summary counts ${said} ${what} where it holds ${is}`;
  return null;
}

/** A step as two plans of one engine can share it. */
function stepKey(a: PlanAction): string {
  return [a.type, a.imageId, a.ref ?? '', a.containerId ?? ''].join(' ');
}

/**
 * Compares a saved plan with the one its policy makes now: the saved plan's steps the current plan does not hold
 * (they must not run), and how many of the current plan's steps the saved plan lacks (never reviewed).
 */
export function compareWithCurrent(saved: Plan, current: Plan): { notCurrent: Set<number>; unreviewed: number } {
  const now = new Set(current.actions.map(stepKey));
  const before = new Set(saved.actions.map(stepKey));
  const notCurrent = new Set<number>();
  saved.actions.forEach((a, i) => {
    if (!now.has(stepKey(a))) notCurrent.add(i);
  });
  return { notCurrent, unreviewed: current.actions.filter((a) => !before.has(stepKey(a))).length };
}

/** Which steps must finish (and clear) before each one: untags and container removals before the image's delete, children before parents. */
function dependencies(
  actions: PlanAction[],
  liveParent: Map<string, string | null>,
  liveUses: Map<string, string[]>,
): number[][] {
  const byImage = new Map<string, number[]>();
  const deleteOf = new Map<string, number>();
  actions.forEach((a, i) => {
    if (a.type === 'delete') deleteOf.set(a.imageId, i);
    else byImage.set(a.imageId, [...(byImage.get(a.imageId) ?? []), i]);
  });
  const deps = actions.map(() => [] as number[]);
  actions.forEach((a, i) => {
    // A container removal goes before the delete of every image the container uses (image and mounts).
    if (a.type === 'remove-container') {
      for (const id of liveUses.get(a.containerId!) ?? []) {
        const d = deleteOf.get(id);
        if (d !== undefined && id !== a.imageId) deps[d]!.push(i);
      }
    }
    if (a.type !== 'delete') return;
    deps[i]!.push(...(byImage.get(a.imageId) ?? []));
    for (const parent of new Set([a.parentId ?? null, liveParent.get(a.imageId) ?? null])) {
      const p = parent === null ? undefined : deleteOf.get(parent);
      if (p !== undefined) deps[p]!.push(i);
    }
  });
  return deps;
}

/** Executes a plan on a live engine: re-list, re-verify, then run the steps in dependency order. */
export async function applyPlan(plan: Plan, engine: Engine, opts: ApplyOptions): Promise<ApplyReport> {
  const startedAt = new Date(opts.clock()).toISOString();
  const freshMs = opts.checkFreshMs ?? CHECK_FRESH_MS;
  const checks = new ImageChecks(engine, freshMs);
  // The re-list before executing. The plan's own listing stands for it while fresh (an unattended run plans
  // and executes at once); after a confirmation, or for a saved plan, the engine is listed again.
  const reuse =
    opts.listing !== undefined && freshMs > 0 && checks.now() - opts.listing.at <= freshMs ? opts.listing : null;
  const listedAt = reuse ? reuse.at : checks.now();
  // The engine's own accounting before and after gives the bytes actually freed; without it, the run goes on.
  const diskUsage = () => engine.diskUsage().catch(() => null);
  const [images, containers, dfBefore] = reuse
    ? [reuse.images, reuse.containers, reuse.diskUsage]
    : await Promise.all([engine.listImages(), engine.listContainers(), diskUsage()]);
  for (const a of plan.actions) if (a.type !== 'remove-container') checks.expect(a.imageId);
  checks.seed(images, listedAt);
  const stale = verifyPlan(plan, { images, containers });
  const deps = dependencies(
    plan.actions,
    new Map(images.map((i) => [i.id, i.parentId])),
    new Map(containers.map((c) => [c.id, [c.imageId, ...c.mountImageIds]])),
  );
  const allowed = plannedReferences(plan);
  const deleted = new Set(plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId));
  // Images a delete removed besides its own (Podman ignores noprune): their own planned delete is then done.
  const removedWith = new Map<string, string>();

  const steps = new Array<StepResult>(plan.actions.length);
  let finished = 0;
  const tasks: Task<StepResult>[] = plan.actions.map((action, index) => {
    const base = () => ({ index, action, at: new Date(opts.clock()).toISOString(), ms: 0 });
    return {
      deps: deps[index]!,
      // One image's steps run one at a time (each checks what the previous one left); other images go meanwhile.
      key: action.type === 'remove-container' ? undefined : action.imageId,
      async run() {
        if (opts.notCurrent?.has(index))
          return { ...base(), status: 'skipped', reason: { code: 'not-in-current-plan' }, clear: false };
        const staleStep = stale.get(index);
        if (staleStep) return { ...base(), status: 'skipped', reason: staleStep.reason, clear: staleStep.clear };
        opts.onStart?.(action, index);
        const t0 = opts.clock();
        const outcome = await runStep(engine, action, {
          allowed: allowed.get(action.imageId) ?? (() => false),
          deletePlanned: deleted.has(action.imageId),
          checks,
          removedWith: (id) => removedWith.get(id) ?? null,
        });
        return { ...base(), ...outcome, ms: opts.clock() - t0 };
      },
      blocked(dep, r) {
        const { type, imageId, ref, containerId } = plan.actions[dep]!;
        const on = {
          type,
          imageId,
          ...(ref === undefined ? {} : { ref }),
          ...(containerId === undefined ? {} : { containerId }),
        };
        return {
          ...base(),
          status: 'skipped',
          reason: { code: 'waits-for', step: dep, on, status: r.status, cause: r.reason },
          clear: false,
        };
      },
      halted() {
        return { ...base(), status: 'skipped', reason: { code: 'not-started', cause: stopCause! }, clear: false };
      },
    };
  });
  let stopCause: StopCause | null = null;
  await runGraph(
    tasks,
    Math.max(1, opts.concurrency),
    (i, r) => {
      steps[i] = r;
      if (r.action.type !== 'remove-container') checks.settled(r.action.imageId);
      if (r.status === 'done' && r.action.type === 'delete')
        for (const id of r.deleted ?? [])
          if (id !== r.action.imageId && deleted.has(id)) removedWith.set(id, r.action.imageId);
      opts.onStep?.(r, ++finished, tasks.length);
    },
    () => (stopCause ??= opts.stop?.() ?? null) !== null,
  );

  const cachePlan = plan.buildCache;
  const cache =
    cachePlan?.status === 'evaluated' && cachePlan.remove.length > 0
      ? await removeBuildCache(engine, cachePlan, {
          keepShared: cachePlan.keepShared,
          clock: opts.clock,
          stop: () => (stopCause ??= opts.stop?.() ?? null),
          onStep: opts.onCacheStep,
        })
      : undefined;
  const identity = await engine.identity();
  const dfAfter =
    dfBefore && steps.some((s) => s.status === 'done' && s.action.type === 'delete') ? await diskUsage() : dfBefore;
  const count = (pred: (s: StepResult) => boolean) => steps.filter(pred).length;
  const doneOf = (type: PlanAction['type']) => count((s) => s.status === 'done' && s.action.type === type);
  return {
    engine: { key: identity.key, name: identity.name, host: identity.host },
    policy: { name: plan.policy.name, sha256: plan.policy.sha256 },
    planCreatedAt: plan.createdAt,
    ...(cache ? { buildCache: cache } : {}),
    startedAt,
    finishedAt: new Date(opts.clock()).toISOString(),
    steps,
    summary: {
      steps: steps.length,
      done: count((s) => s.status === 'done'),
      skipped: count((s) => s.status === 'skipped'),
      failed: count((s) => s.status === 'failed'),
      unknown: count((s) => s.status === 'unknown'),
      deleted: doneOf('delete'),
      untagged: doneOf('untag'),
      containersRemoved: doneOf('remove-container'),
      bytesEstimated:
        plan.summary.estimate === 'layers'
          ? steps
              .filter((s) => s.status === 'done' && s.action.type === 'delete')
              .reduce((sum, s) => sum + (s.action.bytes ?? 0), 0)
          : null,
      estimate: plan.summary.estimate,
      bytesActual: dfBefore && dfAfter ? Math.max(0, dfBefore.layersSize - dfAfter.layersSize) : null,
    },
  };
}
