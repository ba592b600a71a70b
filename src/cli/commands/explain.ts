import { UsageError } from '../../errors.js';
import { findImage } from '../../plan/find-image.js';
import { digestAnswers } from '../../plan/restorable.js';
import { formatExplain, refFateText, traceText } from '../../report/explain-format.js';
import { keptText } from '../../report/kept-text.js';
import type { RuleTrace } from '../../plan/select.js';
import type { BuildCacheKeptReason, Plan } from '../../plan/types.js';
import { CACHE_KEPT_TEXT } from '../../report/build-cache-text.js';
import { formatBytes } from '../../report/bytes.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { enginesOf, evaluate, requirePolicy } from '../context.js';
import type { CliIo } from '../io.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  ...COMMON_OPTIONS,
  policy: { type: 'string', short: 'p' },
} as const;

export async function explainCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('explain', args, OPTIONS);
  if (positionals.length !== 1) throw new UsageError('explain: name exactly one image: imgsweep explain REF -p POLICY');
  const policy = await requirePolicy(values.policy, 'explain', { io, quiet: values.quiet });
  const now = parseNow(values.now);
  if ((values.host?.length ?? 0) + (values.context?.length ?? 0) > 1)
    throw new UsageError('explain: looks at one engine at a time; give one --host or --context');
  const ev = await evaluate(policy, { ...values, ...enginesOf(values, io)[0]! }, io, now, true);
  const cache = cacheRecordOf(ev.plan, positionals[0]!);
  if (cache) {
    io.stdout.write(values.json ? `${JSON.stringify(cache, null, 2)}\n` : `${cacheExplainText(cache)}\n`);
    return 0;
  }
  const found = findImage(
    [...ev.facts.values()].map((f) => f.image),
    positionals[0]!,
  );
  if ('error' in found) throw new UsageError(`explain: ${found.error}`);
  if (values.json) {
    const d = ev.decisions.get(found.image.id)!;
    const f = ev.facts.get(found.image.id)!;
    const del = ev.plan.actions.find((a) => a.type === 'delete' && a.imageId === found.image.id) ?? null;
    const kept = ev.plan.kept.find((k) => k.imageId === found.image.id) ?? null;
    const traces = ev.selections.get(found.image.id)!.traces;
    // Codes and their facts, each with the report's words beside it.
    const rules = (key: string) => (traces?.get(key) ?? []).map((t: RuleTrace) => ({ ...t, detail: traceText(t) }));
    const out = {
      imageId: found.image.id,
      deleted: del !== null,
      rule: del?.rule ?? null,
      kept: kept && { ...kept, detail: keptText(kept) },
      references: f.refs.map((r) => ({
        ref: r.text,
        ...d.fates.get(r.text),
        detail: refFateText(d.fates.get(r.text)),
        rules: rules(r.text),
      })),
      rules: f.refs.length === 0 ? rules('') : undefined,
      containers: f.containers.map((u) => ({ id: u.container.id, state: u.container.state, removable: u.removable })),
      ...(ev.plan.registry ? { restorable: f.restorable, registry: digestAnswers(f.image, ev.registryAnswers) } : {}),
      lastUsed: new Date(f.lastUsedMs).toISOString(),
      firstSeen: f.firstSeenMs === null ? null : new Date(f.firstSeenMs).toISOString(),
    };
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else io.stdout.write(formatExplain(ev, found.image.id, found.ref));
  return 0;
}

/** A build-cache record the plan decided on, named by its ID or a prefix of at least 12 characters of it. */
function cacheRecordOf(plan: Plan, text: string) {
  const c = plan.buildCache;
  if (!c || !/^[a-z0-9]{12,}$/.test(text)) return null;
  const match = (id: string) => id === text || (text.length >= 12 && id.startsWith(text));
  const removed = c.remove.find((r) => match(r.id));
  if (removed) return { buildCacheRecord: removed.id, removed: true, ...removed };
  const kept = c.kept.find((r) => match(r.id));
  return kept ? { buildCacheRecord: kept.id, removed: false, ...kept } : null;
}

function cacheExplainText(r: NonNullable<ReturnType<typeof cacheRecordOf>>): string {
  const head = `build-cache record ${r.id} (${r.type}, ${formatBytes(r.size)}, last used ${r.lastUsedAt})${r.description ? `: ${r.description}` : ''}`;
  const verdict = r.removed
    ? `verdict: REMOVED (buildCache.${r.reason === 'unused-for' ? 'unusedFor' : r.reason === 'keep-bytes' ? 'keepBytes' : 'disk budget'})`
    : `verdict: KEPT (${r.reason}): ${CACHE_KEPT_TEXT[r.reason as BuildCacheKeptReason]}`;
  return `${head}\n${verdict}`;
}
