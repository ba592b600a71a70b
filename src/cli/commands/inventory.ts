import { UsageError } from '../../errors.js';
import { serializeInventory, writeInventoryFile } from '../../inventory/snapshot.js';
import { formatInventoryText } from '../../report/inventory-format.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { ENGINES_IN_PARALLEL, reportFailures, settleLimited } from '../several.js';
import type { EngineRef, InventoryOptions } from '../context.js';
import { enginesOf, loadInventory, refName, requirePolicy } from '../context.js';
import type { CliIo } from '../io.js';
import { parseFormat } from '../output.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  ...COMMON_OPTIONS,
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  policy: { type: 'string', short: 'p' },
} as const;

export async function inventoryCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('inventory', args, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`inventory: unexpected argument "${positionals[0]}"`);
  const format = parseFormat(values.format ?? (values.json ? 'json' : undefined), ['text', 'json'] as const, 'text');
  const now = parseNow(values.now);
  const engines = enginesOf(values, io);
  if (engines.length > 1)
    return severalInventories(engines, { ...values, host: undefined, context: undefined }, io, now, format);
  // With a policy that uses restorable: the registries' answers for the images it may delete, saved with the rest.
  const policy = values.policy
    ? await requirePolicy(values.policy, 'inventory', { io, quiet: values.quiet })
    : undefined;
  const inventory = await loadInventory({ ...values, ...engines[0]! }, io, now, policy);
  if (values.output) {
    await writeInventoryFile(values.output, inventory);
    if (!values.quiet)
      io.stderr.write(
        `saved ${inventory.images.length} images and ${inventory.containers.length} containers to ${values.output}\n`,
      );
    if (values.format === undefined && !values.json) return 0;
  }
  if (!values.quiet)
    io.stdout.write(format === 'json' ? serializeInventory(inventory) : formatInventoryText(inventory));
  return 0;
}

/** Several engines: read in parallel; text sections or a JSON array, one inventory per engine. */
async function severalInventories(
  engines: EngineRef[],
  values: InventoryOptions & { output?: string; quiet?: boolean },
  io: CliIo,
  now: number,
  format: 'text' | 'json',
): Promise<number> {
  if (values.output) throw new UsageError("inventory: -o saves one engine's snapshot; give one --host or --context");
  const results = await settleLimited(engines, ENGINES_IN_PARALLEL, (ref) =>
    loadInventory({ ...values, ...ref }, io, now),
  );
  const inventories = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (!values.quiet) {
    io.stdout.write(
      format === 'json'
        ? `[\n${inventories.map((i) => serializeInventory(i).trimEnd()).join(',\n')}\n]\n`
        : inventories.map(formatInventoryText).join('\n'),
    );
  }
  return reportFailures(results, engines.map(refName), io);
}
