/** Checking a policy test's expectations against the plan of its policy. Pure: an evaluation in, verdicts out. */
import { findImage } from '../plan/find-image.js';
import { formatBytes } from '../report/bytes.js';
import type { Evaluation } from '../plan/plan.js';
import type { Expectation } from './load.js';

/** What the plan does with the reference or image an expectation names. */
export interface Actual {
  fate: 'deleted' | 'untagged' | 'kept' | 'missing';
  /** The rule that deletes or untags it, or that keeps it (keep.newest, an untag-only rule). */
  rule: string | null;
  /** Why it is kept: the image's reason, and the reference's own when it differs. */
  reasons: string[];
  /** The plan's estimate for a deleted image (null: no estimate). */
  bytes: number | null;
  imageId: string | null;
  /** The reference as the inventory holds it (null: an image named by ID). */
  ref: string | null;
  /** Why nothing was found. */
  missing?: string;
}

export interface Verdict {
  expectation: Expectation;
  actual: Actual;
  /** What does not hold; empty when it passes. */
  failures: string[];
}

export function actualOf(ev: Evaluation, e: Expectation): Actual {
  const found = findImage(
    [...ev.facts.values()].map((f) => f.image),
    e.ref ?? e.image!,
  );
  if ('error' in found)
    return { fate: 'missing', rule: null, reasons: [], bytes: null, imageId: null, ref: null, missing: found.error };
  const id = found.image.id;
  const ref = e.ref === undefined ? null : found.ref;
  const del = ev.plan.actions.find((a) => a.type === 'delete' && a.imageId === id);
  const base = { imageId: id, ref, bytes: null, reasons: [] as string[] };
  if (del) return { ...base, fate: 'deleted', rule: del.rule, bytes: del.bytes ?? null };
  const untags = ev.plan.actions.filter((a) => a.type === 'untag' && a.imageId === id);
  const mine = ref === null ? untags[0] : untags.find((a) => a.ref === ref);
  if (mine) return { ...base, fate: 'untagged', rule: mine.rule };
  const kept = ev.plan.kept.find((k) => k.imageId === id);
  const reasons: string[] = kept ? [kept.reason] : [];
  let rule = kept && 'rule' in kept && typeof kept.rule === 'string' ? kept.rule : null;
  if (ref !== null) {
    const fate = ev.decisions.get(id)?.fates.get(ref);
    if (fate?.fate === 'keep' && !reasons.includes(fate.why.reason)) reasons.push(fate.why.reason);
    if (fate?.fate === 'keep' && 'rule' in fate.why && typeof fate.why.rule === 'string') rule ??= fate.why.rule;
  }
  return { ...base, fate: 'kept', rule, reasons };
}

export function check(ev: Evaluation, e: Expectation): Verdict {
  const actual = actualOf(ev, e);
  const failures: string[] = [];
  if (actual.fate === 'missing') failures.push(actual.missing ?? 'not found');
  else if (actual.fate !== e.fate) failures.push(`expected ${e.fate}, got ${actual.fate}`);
  else {
    if (e.rule !== undefined && actual.rule !== e.rule)
      failures.push(`expected rule ${e.rule}, got ${actual.rule === null ? 'no rule' : actual.rule}`);
    if (e.reason !== undefined && !actual.reasons.includes(e.reason))
      failures.push(`expected reason ${e.reason}, got ${actual.reasons.join(', ') || 'none'}`);
    const off = actual.bytes === null || e.bytes === undefined ? Infinity : Math.abs(actual.bytes - e.bytes);
    if (e.bytes !== undefined && off > (e.bytesTolerance ?? 0))
      failures.push(
        `expected ${formatBytes(e.bytes)} reclaimed, got ${actual.bytes === null ? 'no estimate' : formatBytes(actual.bytes)} (${actual.bytes ?? 'no'} bytes)`,
      );
  }
  return { expectation: e, actual, failures };
}
