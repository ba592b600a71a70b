import type { KeptReason, Refusal } from '../plan/reasons.js';
import type { Plan, PlanAction } from '../plan/types.js';
import { formatEstimate } from './bytes.js';
import { CACHE_HEAD, cacheHeadline, cacheKeptLine, cacheRows, cacheSummary } from './build-cache-text.js';
import { diskText } from './disk-text.js';
import { KEPT_REASON_TEXT, keptText } from './kept-text.js';
import { markdownCode, markdownText } from './escape.js';
import { markdownTable, plural, shortImageId, textTableLines } from './table.js';

/** About the size of the pieces the text and JSON are written in. */
const CHUNK = 1 << 20;

/** Why a first run plans little: images kept only because they were just first seen, and when they become eligible. */
/** "Registries: asked about 12 digests (14 requests): 8 served, 3 gone, 1 not known (down.example: …)". */
export function registryText(plan: Plan): string | null {
  const r = plan.registry;
  if (!r) return null;
  if (r.digests === 0)
    return 'Registries: no digest asked about (an image with a digest not asked about counts as not known to be restorable).';
  const calls = r.calls === null ? '' : ` (${plural(r.calls, 'request')})`;
  const down = r.unreachable.map((u) => `${u.registry}: ${u.reason}`).join('; ');
  return `Registries: asked about ${plural(r.digests, 'digest')}${calls}: ${r.present} served, ${r.absent} gone, ${r.unknown} not known${down ? ` (could not ask ${down})` : ''}.`;
}

export function firstSeenText(plan: Plan): string | null {
  const h = plan.firstSeen;
  if (!h) return null;
  const one = h.images === 1;
  const when = h.eligibleFrom === h.eligibleBy ? `at ${h.eligibleBy}` : `from ${h.eligibleFrom} to ${h.eligibleBy}`;
  return [
    `Note: ${plural(h.images, 'image is', 'images are')} kept only because imgsweep first saw ${one ? 'it' : 'them'}`,
    ` less than ${h.youngerThan} ago (protect.youngerThan)`,
    h.recordStarted ? ', as this run is its first on this engine (it started the usage record)' : '',
    `; ${one ? 'it becomes' : 'they become'} eligible ${when}.`,
  ].join('');
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  const parts = [
    `delete ${plural(s.deletes, 'image')} (est. ${formatEstimate(s.bytes, s.deletes)})`,
    `untag ${plural(s.untags, 'reference')}`,
  ];
  if (s.removeContainers > 0) parts.push(`remove ${plural(s.removeContainers, 'stopped container')}`);
  if (plan.buildCache) parts.push(cacheSummary(plan.buildCache));
  return `Plan: ${parts.join(', ')}; keep ${plural(s.kept, 'image')} of ${s.images}.`;
}

/** Why apply refuses the plan. */
export function refusalText(r: Refusal): string {
  if (r.reason === 'max-deletions')
    return `the plan deletes ${r.deletes} images, more than limits.maxDeletions (${r.limit})`;
  const pct = Math.round((r.deletes / r.images) * 1000) / 10;
  return `the plan deletes ${r.deletes} of ${r.images} images (${pct}%), more than limits.maxDeletionsPercent (${r.limit}%)`;
}

function header(plan: Plan): string {
  const e = plan.engine;
  const policy = plan.policy.name ? `${plan.policy.name} (${plan.policy.file})` : plan.policy.file;
  return `policy ${policy} on ${e.name} (${e.kind} ${e.version}, API ${e.apiVersion}) at ${plan.createdAt}; inventory of ${plan.inventory.capturedAt}`;
}

const of = (plan: Plan, type: PlanAction['type']) => plan.actions.filter((a) => a.type === type);

/** Tags first, digests only when there is no tag; at most three, then a count. */
export function refsCell(refs: readonly string[]): string {
  if (refs.length === 0) return '<none>';
  const tags = refs.filter((r) => !r.includes('@'));
  const shown = tags.length > 0 ? tags : refs;
  const more = refs.length - Math.min(3, shown.length);
  return shown.slice(0, 3).join(', ') + (more > 0 ? ` (+${more} more)` : '');
}

/** Each table's rows, made when asked for: a plan of a million images has a million rows. */
function rowsFor(plan: Plan) {
  return {
    containers: () =>
      of(plan, 'remove-container').map((a) => [shortImageId(a.containerId ?? ''), shortImageId(a.imageId), a.rule]),
    untags: () => of(plan, 'untag').map((a) => [a.ref ?? '', shortImageId(a.imageId), a.rule]),
    deletes: () =>
      of(plan, 'delete').map((a) => [
        shortImageId(a.imageId),
        formatEstimate(a.bytes),
        a.rule,
        refsCell(a.refs ?? []) + (a.platforms ? ` (${a.platforms} platforms)` : ''),
      ]),
    kept: () =>
      plan.kept
        .filter((k) => k.reason !== 'not-selected')
        .map((k) => [shortImageId(k.imageId), refsCell(k.refs), keptText(k)]),
  };
}

function keptCounts(plan: Plan): [string, number][] {
  const counts = new Map<KeptReason, number>();
  for (const k of plan.kept) counts.set(k.reason, (counts.get(k.reason) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => [KEPT_REASON_TEXT[r], n]);
}

/** The plan for a person at a terminal: grouped by action, sizes in human units, one summary line. */
export function formatPlanText(plan: Plan): string {
  return [...formatPlanTextChunks(plan)].join('');
}

/** formatPlanText's text in pieces of about a megabyte, made as they are written: it can be hundreds of MB. */
export function* formatPlanTextChunks(plan: Plan): Generator<string> {
  let batch: string[] = [];
  let length = 0;
  for (const line of planTextLines(plan)) {
    batch.push(line);
    length += line.length + 1;
    if (length >= CHUNK) {
      yield `${batch.join('\n')}\n`;
      batch = [];
      length = 0;
    }
  }
  if (batch.length > 0) yield `${batch.join('\n')}\n`;
}

function* planTextLines(plan: Plan): Generator<string> {
  const r = rowsFor(plan);
  yield `imgsweep plan: ${header(plan)}`;
  yield '';
  if (plan.refused) {
    yield `REFUSED: ${refusalText(plan.refused)}; apply will refuse this plan (exit 3).`;
    yield '';
  }
  // Each table's rows are made when it is written, and dropped after.
  function* table(title: (n: number) => string, head: string[], rows: string[][]) {
    if (rows.length === 0) return;
    yield title(rows.length);
    yield* textTableLines(head, rows);
    yield '';
  }
  yield* table((n) => `Remove stopped containers (${n}):`, ['CONTAINER', 'IMAGE', 'RULE'], r.containers());
  yield* table((n) => `Untag (${n}):`, ['REFERENCE', 'IMAGE', 'RULE'], r.untags());
  yield* table(
    (n) => `Delete (${n}, children before parents):`,
    ['IMAGE', 'EST. SIZE', 'RULE', 'REFERENCES'],
    r.deletes(),
  );
  yield* table((n) => `Kept (${n} with a reason to show):`, ['IMAGE', 'REFERENCES', 'WHY'], r.kept());
  const counts = keptCounts(plan);
  if (counts.length) yield `Kept by reason: ${counts.map(([t, n]) => `${n} ${t}`).join('; ')}`;
  if (plan.buildCache) {
    yield cacheHeadline(plan.buildCache);
    if (plan.buildCache.remove.length > 0) yield* textTableLines(CACHE_HEAD, cacheRows(plan.buildCache));
    const kept = cacheKeptLine(plan.buildCache);
    if (kept) yield kept;
  }
  if (plan.disk) yield `Disk: ${diskText(plan.disk)}`;
  const registry = registryText(plan);
  if (registry) yield registry;
  const note = firstSeenText(plan);
  if (note) yield note;
  if (plan.actions.length === 0 && !plan.buildCache?.remove.length) yield 'Nothing to do.';
  yield summaryLine(plan);
}

/** The plan for a CI step summary or a pull-request comment. */
export function formatPlanMarkdown(plan: Plan): string {
  const made = rowsFor(plan);
  const r = { containers: made.containers(), untags: made.untags(), deletes: made.deletes(), kept: made.kept() };
  // Every cell and line of text is escaped: names, labels and engine text come from outside.
  const code = (rows: string[][], cols: number[]) =>
    rows.map((row) => row.map((c, i) => (cols.includes(i) ? markdownCode(c) : markdownText(c))));
  const out: string[] = [
    '## imgsweep plan',
    '',
    markdownText(header(plan)),
    '',
    `**${markdownText(summaryLine(plan))}**`,
    '',
  ];
  if (plan.refused)
    out.push(
      `> [!WARNING]`,
      `> Refused: ${markdownText(refusalText(plan.refused))}. \`imgsweep apply\` will exit 3.`,
      '',
    );
  if (plan.disk) out.push(`Disk: ${markdownText(diskText(plan.disk))}`, '');
  const registry = registryText(plan);
  if (registry) out.push(markdownText(registry), '');
  if (plan.buildCache) {
    out.push(markdownText(cacheHeadline(plan.buildCache)), '');
    const rows = cacheRows(plan.buildCache);
    if (rows.length) out.push(markdownTable(CACHE_HEAD, code(rows, [0])), '');
    const kept = cacheKeptLine(plan.buildCache);
    if (kept) out.push(markdownText(kept), '');
  }
  const note = firstSeenText(plan);
  if (note) out.push(`> [!NOTE]`, `> ${markdownText(note.replace(/^Note: /, ''))}`, '');
  if (r.containers.length)
    out.push(
      `### Remove stopped containers (${r.containers.length})`,
      '',
      markdownTable(['Container', 'Image', 'Rule'], code(r.containers, [0, 1])),
      '',
    );
  if (r.untags.length)
    out.push(
      `### Untag (${r.untags.length})`,
      '',
      markdownTable(['Reference', 'Image', 'Rule'], code(r.untags, [0, 1])),
      '',
    );
  if (r.deletes.length)
    out.push(
      `### Delete (${r.deletes.length})`,
      '',
      markdownTable(['Image', 'Est. size', 'Rule', 'References'], code(r.deletes, [0, 3])),
      '',
    );
  const counts = keptCounts(plan);
  if (plan.kept.length) {
    out.push(
      `<details><summary>Kept: ${plan.kept.length} images (${markdownText(counts.map(([t, n]) => `${n} ${t}`).join(', '))})</summary>`,
      '',
    );
    // The images no rule selects are counted, not listed: say so, so the table's length matches its heading.
    const hidden = plan.kept.length - r.kept.length;
    if (hidden > 0)
      out.push(
        r.kept.length === 0
          ? `None is listed: no rule selects ${hidden === 1 ? 'it' : 'them'}.`
          : `Listed: the ${plural(r.kept.length, 'image')} kept for a reason other than "no rule selects it"; ${hidden === 1 ? 'the other one is' : `the other ${hidden} are`} not listed.`,
        '',
      );
    if (r.kept.length) out.push(markdownTable(['Image', 'References', 'Why'], code(r.kept, [0, 1])), '');
    out.push('</details>', '');
  }
  if (plan.actions.length === 0) out.push('Nothing to do.', '');
  return out.join('\n');
}

/** The plan file: stable JSON (fixed key order, sorted arrays), so the same inputs give the same bytes. */
export function formatPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/**
 * formatPlanJson's text in pieces of about a megabyte, to write one after another: a plan of a million images
 * is longer than one string may be (~512 MiB). The top-level lists are written item by item.
 */
export function* formatPlanJsonChunks(plan: Plan): Generator<string> {
  const indented = (value: unknown, indent: string) =>
    (JSON.stringify(value, null, 2) ?? 'null').replace(/\n/g, `\n${indent}`);
  let pieces: string[] = [];
  let length = 0;
  const entries = Object.entries(plan).filter(([, value]) => value !== undefined);
  let first = true;
  for (const [key, value] of entries) {
    pieces.push(`${first ? '{\n' : ',\n'}  ${JSON.stringify(key)}: `);
    first = false;
    if (!Array.isArray(value) || value.length === 0) {
      pieces.push(indented(value, '  '));
      continue;
    }
    pieces.push('[');
    for (const [i, item] of value.entries()) {
      const text = `${i > 0 ? ',' : ''}\n    ${indented(item, '    ')}`;
      pieces.push(text);
      length += text.length;
      if (length >= CHUNK) {
        yield pieces.join('');
        pieces = [];
        length = 0;
      }
    }
    pieces.push('\n  ]');
  }
  pieces.push(first ? '{}\n' : '\n}\n');
  yield pieces.join('');
}
