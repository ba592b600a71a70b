import type { StepReason, StepTarget } from '../execute/reasons.js';
import type { ApplyReport, StepResult } from '../execute/types.js';
import type { PlanAction } from '../plan/types.js';
import { cacheRunText } from './build-cache-text.js';
import { formatBytes, formatEstimate } from './bytes.js';
import { plural, shortImageId } from './table.js';

/** A step as one of its dependants names it: "delete 0123456789ab". */
function stepName(a: StepTarget): string {
  return a.type === 'untag'
    ? `untag ${a.ref}`
    : a.type === 'remove-container'
      ? `remove container ${a.containerId!.slice(0, 12)}`
      : `delete ${shortImageId(a.imageId)}`;
}

/** Why a step was skipped or failed, or what a done step confirmed, in words; `a` is the step's own target. */
export function stepReasonText(r: StepReason, a: StepTarget): string {
  switch (r.code) {
    case 'container-gone':
      return 'container already gone';
    case 'container-running':
      return `container is ${r.state} now`;
    case 'container-image-changed':
      return 'container no longer uses the image';
    case 'image-in-use':
      return `container ${r.container.name ?? shortImageId(r.container.id)} (${r.container.state}) uses the image now`;
    case 'reference-gone':
      return 'reference already gone';
    case 'reference-moved':
      return `reference now points to image ${shortImageId(r.imageId)} (moved since planning)`;
    case 'reference-changed':
      return 'reference changed while checking it';
    case 'image-gone':
      return 'image already gone';
    case 'unplanned-references':
      return `image has references the plan did not name: ${r.refs.join(', ')}`;
    case 'references-lost':
      return `${r.refs.join(', ')} no longer on the image (moved or removed since planning)`;
    case 'new-child':
      return `image ${shortImageId(r.child)} now depends on it as a parent`;
    case 'left-for-delete':
      return 'left for the delete by ID: it is the last reference now';
    case 'last-reference':
      return "it is the image's last reference now (others moved or were removed since planning); untagging it would delete the image";
    case 'conflict':
      return `changed under us: ${r.message}`;
    case 'waits-for':
      return `waits for "${stepName(r.on)}", which was ${r.status}${r.cause ? `: ${stepReasonText(r.cause, r.on)}` : ''}`;
    case 'not-started':
      return r.cause.by === 'signal'
        ? `not started: the run stopped on ${r.cause.signal}`
        : `not started: the run stopped (the audit log could not be written: ${r.cause.message})`;
    case 'not-in-current-plan':
      return "not in the policy's current plan";
    case 'engine-error':
    case 'check-failed':
      return r.message;
    case 'outcome-unknown':
      return `unknown, will be re-checked by the next run: the request failed in transport (${r.message}) and the look afterwards failed too (${r.check})`;
    case 'not-found-but-present':
      return `the engine said not found, yet it is still there: ${r.message}`;
    case 'removed-with':
      return `the engine removed it with ${shortImageId(r.imageId)} (it prunes untagged parents)`;
    case 'confirmed-after-transport-error': {
      const what = a.type === 'untag' ? 'reference' : a.type === 'remove-container' ? 'container' : 'image';
      return `${what} gone after a transport error (${r.message})`;
    }
  }
}

function target(s: StepResult): string {
  return actionTarget(s.action);
}

/** What a step acts on, in a few words: "untag repo:tag (id)", "delete id repo:tag", "remove container id". */
export function actionTarget(a: PlanAction): string {
  if (a.type === 'untag') return `untag ${a.ref} (${shortImageId(a.imageId)})`;
  if (a.type === 'remove-container')
    return `remove container ${a.containerId!.slice(0, 12)} (image ${shortImageId(a.imageId)})`;
  return `delete ${shortImageId(a.imageId)}${a.refs?.length ? ` ${a.refs[0]}` : ''}`;
}

/** One line per executed step, for a person or a cron mail. */
export function formatStepLine(s: StepResult): string {
  const why = s.reason ? `: ${stepReasonText(s.reason, s.action)}` : '';
  return `${s.status.padEnd(7)} ${target(s)} [${s.action.rule}]${why}`;
}

/** One JSON object per step: for --json output and the audit log; `reason` is the code with its facts, `message` its words. */
export function stepRecord(s: StepResult, report: Pick<ApplyReport, 'engine' | 'policy'>): Record<string, unknown> {
  const a = s.action;
  return {
    time: s.at,
    engine: report.engine.key,
    engineName: report.engine.name,
    policy: report.policy.name,
    step: s.index,
    type: a.type,
    imageId: a.imageId,
    ...(a.ref ? { ref: a.ref } : {}),
    ...(a.containerId ? { containerId: a.containerId } : {}),
    ...(a.type === 'delete' ? { refs: a.refs ?? [], bytes: a.bytes ?? null } : {}),
    rule: a.rule,
    outcome: s.status,
    reason: s.reason,
    message: s.reason ? stepReasonText(s.reason, a) : '',
    ms: Math.round(s.ms),
  };
}

export function formatApplySummary(report: ApplyReport): string {
  const s = report.summary;
  const secs = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  const parts = [
    `deleted ${plural(s.deleted, 'image')} (est. ${formatEstimate(s.bytesEstimated, s.deleted)}${s.bytesActual !== null ? `, actual ${formatBytes(s.bytesActual)}` : ''})`,
    `untagged ${plural(s.untagged, 'reference')}`,
    `removed ${plural(s.containersRemoved, 'container')}`,
  ];
  const tail = [`${s.skipped} skipped`, `${s.failed} failed`, ...(s.unknown > 0 ? [`${s.unknown} unknown`] : [])].join(
    ', ',
  );
  const cache = report.buildCache ? `; ${cacheRunText(report.buildCache.summary)}` : '';
  return `Applied on ${report.engine.name}: ${parts.join(', ')}; ${tail}${cache}; ${secs.toFixed(1)} s.`;
}
