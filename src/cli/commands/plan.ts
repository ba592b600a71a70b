import { UsageError } from '../../errors.js';
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from '../../report/plan-format.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { evaluate, requirePolicy } from '../context.js';
import type { CliIo } from '../io.js';
import { parseFormat, writeFileAtomic } from '../output.js';

export async function planCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('plan', args, {
    ...COMMON_OPTIONS,
    policy: { type: 'string', short: 'p' },
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`plan: unexpected argument "${positionals[0]}" (the policy goes after -p)`);
  const format = parseFormat(values.format ?? (values.json ? 'json' : undefined), ['text', 'json', 'markdown'] as const, 'text');
  const policy = await requirePolicy(values.policy, 'plan');
  const now = parseNow(values.now);
  const { plan } = await evaluate(policy, values, io, now);
  const json = formatPlanJson(plan);
  if (values.output) await writeFileAtomic(values.output, json);
  if (values.quiet) return 0;
  io.stdout.write(format === 'json' ? json : format === 'markdown' ? formatPlanMarkdown(plan) : formatPlanText(plan));
  return 0;
}
