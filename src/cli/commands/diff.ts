import { diffPlans } from '../../diff/plan-diff.js';
import { InputError, UsageError } from '../../errors.js';
import { readPlanFile } from '../../execute/plan-file.js';
import { evaluatePolicy } from '../../plan/plan.js';
import type { Plan } from '../../plan/types.js';
import { formatDiffJson, formatDiffMarkdown, formatDiffText } from '../../report/diff-format.js';
import { snapshotUsage } from '../../usage/fold.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import {
  DEFAULT_INSECURE,
  enginesOf,
  liveRegistryCheck,
  loadInventory,
  registryCheckOf,
  requirePolicy,
} from '../context.js';
import { attachRegistryAnswers } from '../../live/registry.js';
import { usesRegistry } from '../../plan/restorable.js';
import type { CliIo } from '../io.js';
import { parseFormat } from '../output.js';

export const OPTIONS = {
  ...COMMON_OPTIONS,
  policy: { type: 'string', short: 'p', multiple: true },
  format: { type: 'string' },
  'exit-code': { type: 'boolean' },
} as const;

/**
 * What a policy change does: two policies planned against one inventory (saved, or read once from the engine),
 * or two saved plans; every image, reference, container and build-cache record whose fate changes.
 */
export async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('diff', args, OPTIONS);
  const format = parseFormat(
    values.format ?? (values.json ? 'json' : undefined),
    ['text', 'json', 'markdown'] as const,
    'text',
  );
  const policies = values.policy ?? [];
  let before: Plan;
  let after: Plan;
  if (policies.length > 0) {
    if (policies.length !== 2 || positionals.length > 0)
      throw new UsageError('diff: give two policies, old then new: imgsweep diff -p OLD.yaml -p NEW.yaml');
    if ((values.host?.length ?? 0) + (values.context?.length ?? 0) > 1)
      throw new UsageError('diff: compares on one engine at a time; give one --host or --context');
    const [oldPolicy, newPolicy] = [
      await requirePolicy(policies[0], 'diff', { io, quiet: values.quiet }),
      await requirePolicy(policies[1], 'diff', { io, quiet: values.quiet }),
    ];
    const now = parseNow(values.now);
    // One inventory for both: the engine is read once, so only the policies differ.
    const opts = { ...values, ...enginesOf(values, io)[0]! };
    const inventory = await loadInventory(opts, io, now);
    const input = { inventory: { ...inventory, usage: snapshotUsage(inventory) }, now };
    // Registries are asked once for what either policy needs (restorable), unless a saved inventory's answers stand.
    if (registryCheckOf(opts).mode !== 'saved') {
      for (const policy of [oldPolicy, newPolicy])
        if (usesRegistry(policy))
          await attachRegistryAnswers(DEFAULT_INSECURE, { ...input, policy }, liveRegistryCheck(opts, io));
    }
    before = evaluatePolicy({ ...input, policy: oldPolicy }).plan;
    after = evaluatePolicy({ ...input, policy: newPolicy }).plan;
  } else {
    if (positionals.length !== 2)
      throw new UsageError(
        'diff: give two plans (imgsweep diff OLD-PLAN.json NEW-PLAN.json) or two policies (imgsweep diff -p OLD.yaml -p NEW.yaml)',
      );
    for (const flag of ['host', 'context', 'inventory', 'now'] as const) {
      if (values[flag] !== undefined)
        throw new UsageError(`diff: --${flag} is for two policies; two plans are compared as saved`);
    }
    [before, after] = [await onePlan(positionals[0]!), await onePlan(positionals[1]!)];
  }
  const diff = diffPlans(before, after);
  if (!values.quiet) {
    io.stdout.write(
      format === 'json'
        ? formatDiffJson(diff)
        : format === 'markdown'
          ? formatDiffMarkdown(diff)
          : formatDiffText(diff),
    );
  }
  return values['exit-code'] && diff.changed ? 1 : 0;
}

async function onePlan(path: string): Promise<Plan> {
  const plan = await readPlanFile(path);
  if (plan.kind !== 'imgsweep-plan')
    throw new InputError(
      `${path} holds plans for several engines: diff compares one engine's plans (plan with one --host)`,
    );
  return plan;
}
