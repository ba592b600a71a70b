import type { ApplyReport, StepResult } from '../execute/types.js';
import { formatBytes } from './bytes.js';
import { plural, shortImageId } from './table.js';

function target(s: StepResult): string {
  const a = s.action;
  if (a.type === 'untag') return `untag ${a.ref} (${shortImageId(a.imageId)})`;
  if (a.type === 'remove-container') return `remove container ${a.containerId!.slice(0, 12)} (image ${shortImageId(a.imageId)})`;
  return `delete ${shortImageId(a.imageId)}${a.refs?.length ? ` ${a.refs[0]}` : ''}`;
}

/** One line per executed step, for a person or a cron mail. */
export function formatStepLine(s: StepResult): string {
  const why = s.reason ? `: ${s.reason}` : '';
  return `${s.status.padEnd(7)} ${target(s)} [${s.action.rule}]${why}`;
}

/** One JSON object per step: for --json output and the audit log. */
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
    ...(a.type === 'delete' ? { refs: a.refs ?? [], bytes: a.bytes ?? 0 } : {}),
    rule: a.rule,
    outcome: s.status,
    reason: s.reason,
    ms: Math.round(s.ms),
  };
}

export function formatApplySummary(report: ApplyReport): string {
  const s = report.summary;
  const secs = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  const parts = [
    `deleted ${plural(s.deleted, 'image')} (est. ${formatBytes(s.bytesEstimated)}${s.estimate === 'sizes' ? ' by image sizes' : ''}${s.bytesActual !== null ? `, actual ${formatBytes(s.bytesActual)}` : ''})`,
    `untagged ${plural(s.untagged, 'reference')}`,
    `removed ${plural(s.containersRemoved, 'container')}`,
  ];
  const tail = [`${s.skipped} skipped`, `${s.failed} failed`].join(', ');
  return `Applied on ${report.engine.name}: ${parts.join(', ')}; ${tail}; ${secs.toFixed(1)} s.`;
}
