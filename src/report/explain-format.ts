import type { Evaluation } from '../plan/plan.js';
import { containerName } from '../plan/decide.js';
import { formatBytes } from './bytes.js';
import { shortImageId } from './table.js';

/** Why one image (and each of its references) is kept or removed, for a person. */
export function formatExplain(ev: Evaluation, imageId: string, askedRef: string | null): string {
  const f = ev.facts.get(imageId)!;
  const d = ev.decisions.get(imageId)!;
  const sel = ev.selections.get(imageId)!;
  const img = f.image;
  const out: string[] = [];
  out.push(`image ${shortImageId(img.id)} (${img.id})${askedRef ? ` for ${askedRef}` : ''}`);
  out.push(`  created ${img.created}, size ${formatBytes(img.size)}`);
  out.push(`  first seen ${f.firstSeenMs !== null ? new Date(f.firstSeenMs).toISOString() : 'unknown (no usage record)'}; last used ${new Date(f.lastUsedMs).toISOString()} (${f.usageSource})`);
  if (f.parent) out.push(`  parent ${shortImageId(f.parent.image.id)}`);
  if (f.children.length) out.push(`  children ${f.children.map((c) => shortImageId(c.image.id)).join(', ')}`);
  const labels = Object.entries(img.labels);
  if (labels.length) out.push(`  labels ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  out.push('');
  out.push(f.refs.length ? 'references:' : 'references: none (untagged)');
  const keys = f.refs.length ? f.refs.map((r) => r.text) : [''];
  for (const key of keys) {
    if (key) {
      const fate = d.fates.get(key);
      const what = !fate
        ? 'kept'
        : fate.fate === 'keep'
          ? `kept: ${fate.why}`
          : fate.fate === 'untag'
            ? `untagged (rule ${fate.rule})`
            : fate.fate === 'delete'
              ? `removed with the image (rule ${fate.rule})`
              : 'goes with the last tag of its repository';
      out.push(`  ${key}: ${what}`);
    }
    for (const t of sel.traces?.get(key) ?? []) out.push(`    rule ${t.rule}: ${t.outcome} (${t.detail})`);
  }
  out.push('');
  if (f.containers.length === 0) out.push('containers: none');
  else {
    out.push('containers:');
    for (const u of f.containers) {
      const c = u.container;
      const note = u.running ? 'the image is never touched' : u.removable ? 'stopped, may be removed (containers.stopped: remove)' : 'stopped, keeps the image';
      out.push(`  ${containerName(u)} ${c.state}${c.finishedAt ? `, finished ${c.finishedAt}` : ''}: ${note}`);
    }
  }
  out.push('');
  const del = ev.plan.actions.find((a) => a.type === 'delete' && a.imageId === imageId);
  if (del) {
    out.push(`verdict: DELETED by rule ${del.rule} (est. ${formatBytes(del.bytes ?? 0)} reclaimed)`);
  } else {
    const kept = ev.plan.kept.find((k) => k.imageId === imageId);
    const untags = d.untags.length;
    out.push(`verdict: KEPT (${kept?.reason ?? 'unknown'}): ${kept?.detail ?? ''}${untags ? `; ${untags} reference${untags === 1 ? '' : 's'} untagged` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
