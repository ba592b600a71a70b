import { UsageError } from '../../errors.js';
import { serializeInventory, writeInventoryFile } from '../../inventory/snapshot.js';
import { formatInventoryText } from '../../report/inventory-format.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { loadInventory } from '../context.js';
import type { CliIo } from '../io.js';
import { parseFormat } from '../output.js';

export async function inventoryCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('inventory', args, {
    ...COMMON_OPTIONS,
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`inventory: unexpected argument "${positionals[0]}"`);
  const format = parseFormat(values.format ?? (values.json ? 'json' : undefined), ['text', 'json'] as const, 'text');
  const now = parseNow(values.now);
  const inventory = await loadInventory(values, io, now, false);
  if (values.output) {
    await writeInventoryFile(values.output, inventory);
    if (!values.quiet) io.stderr.write(`saved ${inventory.images.length} images and ${inventory.containers.length} containers to ${values.output}\n`);
    if (values.format === undefined && !values.json) return 0;
  }
  if (!values.quiet) io.stdout.write(format === 'json' ? serializeInventory(inventory) : formatInventoryText(inventory));
  return 0;
}
