import { UsageError } from '../../errors.js';
import type { PlanSet } from '../../plan/plan-set.js';
import { ENGINES_IN_PARALLEL, reportFailures, reportSkippedDisk, settleLimited } from '../several.js';
import { PLAN_VERSION, type Plan } from '../../plan/types.js';
import {
  formatPlanJsonChunks,
  formatPlanMarkdown,
  formatPlanText,
  formatPlanTextChunks,
} from '../../report/plan-format.js';
import { formatPlanHtml, imageTimesOf, type HtmlReportInput } from '../../report/html/page.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { enginesOf, evaluate, refName, requirePolicy, type EngineRef } from '../context.js';
import type { CliIo } from '../io.js';
import { parseFormat, writeFileAtomic } from '../output.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  ...COMMON_OPTIONS,
  policy: { type: 'string', short: 'p' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
} as const;

export async function planCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('plan', args, OPTIONS);
  if (positionals.length > 0)
    throw new UsageError(`plan: unexpected argument "${positionals[0]}" (the policy goes after -p)`);
  const format = parseFormat(
    values.format ?? (values.json ? 'json' : undefined),
    ['text', 'json', 'markdown', 'html'] as const,
    'text',
  );
  const policy = await requirePolicy(values.policy, 'plan', { io, quiet: values.quiet });
  const now = parseNow(values.now);
  const engines = enginesOf(values, io);
  // A plan remembers a context it was made through, so that applying it (a set above all) reaches the engine
  // the same way, with the context's TLS files.
  // The HTML report also shows each image's age, last use and size, which the plan itself does not hold.
  const planOn = async (ref: EngineRef): Promise<HtmlReportInput> => {
    const { plan, facts } = await evaluate(policy, { ...values, ...ref }, io, now);
    const images = format === 'html' ? imageTimesOf(facts) : undefined;
    return {
      plan: ref.context === undefined ? plan : { ...plan, engine: { ...plan.engine, context: ref.context } },
      images,
    };
  };
  if (engines.length === 1) {
    const report = await planOn(engines[0]!);
    const { plan } = report;
    if (values.output) await writeFileAtomic(values.output, formatPlanJsonChunks(plan));
    // Text and JSON go out in pieces as they are made: for a million images, the JSON is longer than one
    // string may be, and the text is hundreds of MB.
    if (!values.quiet && format === 'markdown') io.stdout.write(formatPlanMarkdown(plan));
    else if (!values.quiet && format === 'html') io.stdout.write(formatPlanHtml(report));
    else if (!values.quiet)
      for (const chunk of format === 'json' ? formatPlanJsonChunks(plan) : formatPlanTextChunks(plan))
        io.stdout.write(chunk);
    return reportSkippedDisk([plan], io);
  }
  // Several engines: planned in parallel; one plan set; an engine that fails does not stop the others.
  const results = await settleLimited(engines, ENGINES_IN_PARALLEL, planOn);
  const reports = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const plans: Plan[] = reports.map((r) => r.plan);
  const set: PlanSet = { kind: 'imgsweep-plan-set', version: PLAN_VERSION, plans };
  const json = `${JSON.stringify(set, null, 2)}\n`;
  if (values.output && plans.length > 0) await writeFileAtomic(values.output, json);
  if (!values.quiet) {
    if (format === 'json') io.stdout.write(json);
    else if (format === 'html') io.stdout.write(formatPlanHtml(reports));
    else
      io.stdout.write(
        plans
          .map((p) =>
            format === 'markdown'
              ? `# Engine ${p.engine.name} at \`${p.engine.host}\`\n\n${formatPlanMarkdown(p)}`
              : `=== engine ${p.engine.name} at ${p.engine.host} ===\n${formatPlanText(p)}`,
          )
          .join('\n'),
      );
  }
  return Math.max(reportFailures(results, engines.map(refName), io), reportSkippedDisk(plans, io));
}
