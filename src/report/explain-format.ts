import { digestAnswers, type Restorability } from '../plan/restorable.js';
import type { RefFate } from '../plan/decide.js';
import type { LastUsedSource } from '../plan/facts.js';
import type { Evaluation } from '../plan/plan.js';
import type { RuleTrace } from '../plan/select.js';
import { formatBytes, formatEstimate } from './bytes.js';
import { containerName, keptText } from './kept-text.js';
import { shortImageId } from './table.js';

/** Where a last-used time comes from: "container 0123456789ab is running", "event", "created". */
export function lastUsedText(from: LastUsedSource): string {
  if (from.kind === 'record') return from.source ?? 'usage record';
  if (from.kind === 'created') return 'created';
  return `container ${shortImageId(from.id)}${from.running ? ' is running' : ''}`;
}

/** A rule's verdict on one reference: "covered, conditions hold", "created 2026-11-20T..., not older than 14d". */
export function traceText(t: RuleTrace): string {
  switch (t.outcome) {
    case 'selected':
      return t.action === 'untag' ? 'covered, conditions hold: untag' : 'covered, conditions hold';
    case 'no-match':
      return 'match does not cover it';
    case 'excluded':
      return 'match.exclude covers it';
    case 'keep-newest':
      return `one of the ${t.newest} newest (by ${t.by}) in ${t.repository ?? 'untagged images'}`;
    case 'too-young':
      return `created ${t.created}, not older than ${t.olderThan}`;
    case 'recently-used':
      return `last used ${t.lastUsed} (${lastUsedText(t.lastUsedFrom)}), within ${t.unusedFor}`;
  }
}

/** What happens to one reference, in words. */
export function refFateText(fate: RefFate | undefined): string {
  if (!fate) return 'kept';
  switch (fate.fate) {
    case 'keep':
      return `kept: ${keptText(fate.why)}`;
    case 'untag':
      return `untagged (rule ${fate.rule})`;
    case 'delete':
      return `removed with the image (rule ${fate.rule})`;
    case 'with-tag':
      return 'goes with the last tag of its repository';
  }
}

function restorableText(r: Restorability): string {
  return r.state === 'yes'
    ? `yes: a registry serves ${r.digest}`
    : r.state === 'no'
      ? `no: ${r.detail}`
      : r.state === 'unknown'
        ? `not known: ${r.detail}`
        : 'not asked';
}

/** Why one image (and each of its references) is kept or removed, for a person. */
export function formatExplain(ev: Evaluation, imageId: string, askedRef: string | null): string {
  const f = ev.facts.get(imageId)!;
  const d = ev.decisions.get(imageId)!;
  const sel = ev.selections.get(imageId)!;
  const img = f.image;
  const out: string[] = [];
  out.push(`image ${shortImageId(img.id)} (${img.id})${askedRef ? ` for ${askedRef}` : ''}`);
  out.push(`  created ${img.created}, size ${formatBytes(img.size)}`);
  out.push(
    `  first seen ${f.firstSeenMs !== null ? new Date(f.firstSeenMs).toISOString() : 'unknown (no usage record)'}; last used ${new Date(f.lastUsedMs).toISOString()} (${lastUsedText(f.lastUsedFrom)})`,
  );
  if (f.parent) out.push(`  parent ${shortImageId(f.parent.image.id)}`);
  if (f.children.length) out.push(`  children ${f.children.map((c) => shortImageId(c.image.id)).join(', ')}`);
  const labels = Object.entries(img.labels);
  if (labels.length) out.push(`  labels ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (ev.plan.registry) {
    out.push(`  restorable: ${restorableText(f.restorable)}`);
    for (const { ref, answer } of digestAnswers(img, ev.registryAnswers)) {
      const said = answer
        ? `${answer.status === 'present' ? 'served' : answer.status === 'absent' ? 'not served (404)' : `not known (${answer.reason ?? 'no answer'})`} by ${answer.registry}, asked ${answer.at}`
        : 'not asked';
      out.push(`    ${ref}: ${said}`);
    }
  }
  out.push('');
  out.push(f.refs.length ? 'references:' : 'references: none (untagged)');
  const keys = f.refs.length ? f.refs.map((r) => r.text) : [''];
  for (const key of keys) {
    if (key) out.push(`  ${key}: ${refFateText(d.fates.get(key))}`);
    for (const t of sel.traces?.get(key) ?? []) out.push(`    rule ${t.rule}: ${t.outcome} (${traceText(t)})`);
  }
  out.push('');
  if (f.containers.length === 0) out.push('containers: none');
  else {
    out.push('containers:');
    for (const u of f.containers) {
      const c = u.container;
      const stopped = c.state === 'created' ? 'created, never started' : 'stopped';
      const note = u.running
        ? 'the image is never touched'
        : u.removable
          ? `${stopped}, may be removed (containers.stopped: remove)`
          : `${stopped}, keeps the image`;
      out.push(
        `  ${containerName({ id: c.id, name: c.names[0] ?? null })} ${c.state}${c.finishedAt ? `, finished ${c.finishedAt}` : ''}: ${note}`,
      );
    }
  }
  out.push('');
  const del = ev.plan.actions.find((a) => a.type === 'delete' && a.imageId === imageId);
  if (del) {
    out.push(`verdict: DELETED by rule ${del.rule} (est. ${formatEstimate(del.bytes)} reclaimed)`);
  } else {
    const kept = ev.plan.kept.find((k) => k.imageId === imageId);
    const untags = d.untags.length;
    out.push(
      `verdict: KEPT (${kept?.reason ?? 'unknown'}): ${kept ? keptText(kept) : ''}${untags ? `; ${untags} reference${untags === 1 ? '' : 's'} untagged` : ''}`,
    );
  }
  return `${out.join('\n')}\n`;
}
