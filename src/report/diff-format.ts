/** A plan diff as text (a terminal, a CI log), Markdown (a pull-request comment) or JSON. Pure. */
import type { CacheChange, ImageChange, ImageFate, PlanDiff, PlanSide } from '../diff/plan-diff.js';
import { formatBytes, formatEstimate } from './bytes.js';
import { escapeControls, markdownCode, markdownText } from './escape.js';
import { keptText } from './kept-text.js';
import { markdownTable, plural, shortImageId, textTable } from './table.js';

/** "+1.2 GB", "-300 MB", "0 B", or "unknown". */
function signedBytes(bytes: number | null): string {
  if (bytes === null) return 'unknown';
  return bytes > 0 ? `+${formatBytes(bytes)}` : bytes < 0 ? `-${formatBytes(-bytes)}` : formatBytes(0);
}

function byRules(rules: string[]): string {
  if (rules.length === 0) return '';
  return rules.map((r) => (r === 'disk' ? 'the disk budget' : `rule ${r}`)).join(', ');
}

/** One side's fate in a few words: "deleted by rule pr-builds", "kept: used by running container web (…)". */
export function fateText(f: ImageFate): string {
  switch (f.fate) {
    case 'deleted':
      return `deleted by ${byRules(f.rules)}`;
    case 'untagged':
      return `${plural(f.untagged.length, 'reference')} untagged by ${byRules(f.rules)}`;
    case 'kept':
      return `kept: ${f.why ? keptText(f.why) : 'kept'}`;
    case 'absent':
      return 'not in the plan';
  }
}

function refsText(c: ImageChange): string {
  if (c.refs.length === 0) return '<none>';
  return c.refs.length === 1 ? c.refs[0]! : `${c.refs[0]!} (+${c.refs.length - 1})`;
}

function policyText(s: PlanSide): string {
  return `${s.policy.name ?? '(unnamed)'} (${s.policy.file}, ${s.policy.sha256.slice(0, 12)})`;
}

function countsText(d: PlanDiff, to = '->'): string {
  const arrow = (a: number, b: number) => (a === b ? `${a}` : `${a} ${to} ${b}`);
  const parts = [
    `deletes ${arrow(d.before.deletes, d.after.deletes)}`,
    `untags ${arrow(d.before.untags, d.after.untags)}`,
    `container removals ${arrow(d.before.removeContainers, d.after.removeContainers)}`,
    `reclaims ${formatEstimate(d.before.bytes, d.before.deletes)} ${to} ${formatEstimate(d.after.bytes, d.after.deletes)} (${signedBytes(d.bytes)})`,
  ];
  if (d.before.cacheBytes !== null || d.after.cacheBytes !== null) {
    const cache = (n: number | null) => (n === null ? 'none' : formatBytes(n));
    parts.push(`build cache removed ${cache(d.before.cacheBytes)} ${to} ${cache(d.after.cacheBytes)}`);
  }
  const text = parts.join(', ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function refusalText(d: PlanDiff): string | null {
  if (d.before.refused === d.after.refused) return null;
  return d.after.refused
    ? 'The new plan exceeds a limit: apply would refuse it (exit 3).'
    : 'The old plan exceeded a limit (apply refused it); the new one does not.';
}

function imageRow(c: ImageChange): string[] {
  return [shortImageId(c.imageId), refsText(c), fateText(c.before), fateText(c.after), signedBytes(c.bytes)];
}

function cacheRow(c: CacheChange): string[] {
  const state = (s: CacheChange['before']) => (s.removed ? `removed (${s.reason})` : `kept (${s.reason})`);
  return [c.id.slice(0, 12), c.type, c.description, state(c.before), state(c.after), formatBytes(c.size)];
}

const IMAGE_HEADER = ['IMAGE', 'REFERENCES', 'BEFORE', 'AFTER', 'BYTES'];
const CACHE_HEADER = ['RECORD', 'TYPE', 'DESCRIPTION', 'BEFORE', 'AFTER', 'SIZE'];

/** References that change fate on images whose own fate changes otherwise (an image both sides keep whole is not listed). */
function refLines(d: PlanDiff): string[][] {
  return d.images
    .filter((c) => c.refs.length > 1 && c.refChanges.length > 0)
    .flatMap((c) => c.refChanges.map((r) => [shortImageId(c.imageId), r.ref, r.before, r.after]));
}

export function formatDiffText(d: PlanDiff): string {
  const out: string[] = [];
  out.push(`Policy ${policyText(d.before)} -> ${policyText(d.after)}`);
  out.push(`Engine ${d.after.engine.name} at ${d.after.engine.host}, inventory of ${d.after.inventoryCapturedAt}`);
  for (const n of d.notes) out.push(`Note: ${n}`);
  out.push(`${countsText(d)}.`);
  const refusal = refusalText(d);
  if (refusal) out.push(refusal);
  if (!d.changed) {
    out.push('', 'No image, reference, container or build-cache record changes fate.');
    return `${escapeControls(out.join('\n'))}\n`;
  }
  if (d.images.length > 0) {
    out.push('', `${plural(d.images.length, 'image')} change fate:`, textTable(IMAGE_HEADER, d.images.map(imageRow)));
    const refs = refLines(d);
    if (refs.length > 0) out.push('', 'References:', textTable(['IMAGE', 'REFERENCE', 'BEFORE', 'AFTER'], refs));
  }
  if (d.containers.length > 0) {
    out.push(
      '',
      `${plural(d.containers.length, 'stopped container')} change fate:`,
      textTable(
        ['CONTAINER', 'IMAGE', 'BEFORE', 'AFTER'],
        d.containers.map((c) => [shortImageId(c.containerId), shortImageId(c.imageId), c.before, c.after]),
      ),
    );
  }
  if (d.buildCache.length > 0) {
    out.push(
      '',
      `${plural(d.buildCache.length, 'build-cache record')} change fate:`,
      textTable(CACHE_HEADER, d.buildCache.map(cacheRow)),
    );
  }
  return `${escapeControls(out.join('\n'))}\n`;
}

export function formatDiffMarkdown(d: PlanDiff): string {
  const out: string[] = [];
  const pol = (s: PlanSide) =>
    `${markdownText(s.policy.name ?? '(unnamed)')} (${markdownCode(s.policy.file)}, ${markdownCode(s.policy.sha256.slice(0, 12))})`;
  out.push(`### imgsweep: what the policy change does`, '');
  out.push(`Policy ${pol(d.before)} → ${pol(d.after)}, on engine ${markdownText(d.after.engine.name)}.`, '');
  for (const n of d.notes) out.push(`> **Note:** ${markdownText(n)}`, '');
  out.push(`${markdownText(countsText(d, '→'))}.`, '');
  const refusal = refusalText(d);
  if (refusal) out.push(`> **Warning:** ${refusal}`, '');
  if (!d.changed) {
    out.push('No image, reference, container or build-cache record changes fate.');
    return `${out.join('\n')}\n`;
  }
  const cells = (row: string[], code: number[]) =>
    row.map((cell, i) => (code.includes(i) ? markdownCode(cell) : markdownText(cell)));
  if (d.images.length > 0) {
    out.push(`**${plural(d.images.length, 'image')} change fate**`, '');
    out.push(
      markdownTable(
        IMAGE_HEADER.map((h) => h.toLowerCase()),
        d.images.map((c) => cells(imageRow(c), [0, 1])),
      ),
      '',
    );
    const refs = refLines(d);
    if (refs.length > 0) {
      out.push(
        '**References**',
        '',
        markdownTable(
          ['image', 'reference', 'before', 'after'],
          refs.map((r) => cells(r, [0, 1])),
        ),
        '',
      );
    }
  }
  if (d.containers.length > 0) {
    out.push(`**${plural(d.containers.length, 'stopped container')} change fate**`, '');
    out.push(
      markdownTable(
        ['container', 'image', 'before', 'after'],
        d.containers.map((c) =>
          cells([shortImageId(c.containerId), shortImageId(c.imageId), c.before, c.after], [0, 1]),
        ),
      ),
      '',
    );
  }
  if (d.buildCache.length > 0) {
    out.push(`**${plural(d.buildCache.length, 'build-cache record')} change fate**`, '');
    out.push(
      markdownTable(
        CACHE_HEADER.map((h) => h.toLowerCase()),
        d.buildCache.map((c) => cells(cacheRow(c), [0])),
      ),
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

export function formatDiffJson(d: PlanDiff): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
