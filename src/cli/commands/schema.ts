import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { schemaFile } from '../../validation/validators.js';
import { parseCommandArgs } from '../args.js';
import type { CliIo } from '../io.js';

const SCHEMAS = ['policy', 'plan', 'inventory'] as const;

export function schemaCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseCommandArgs('schema', args, {});
  const which = positionals[0] ?? 'policy';
  if (positionals.length > 1 || !(SCHEMAS as readonly string[]).includes(which)) {
    throw new UsageError(`schema: expected one of ${SCHEMAS.join(', ')}, got "${positionals.join(' ')}"`);
  }
  io.stdout.write(readFileSync(schemaFile(which as (typeof SCHEMAS)[number]), 'utf8'));
  return Promise.resolve(0);
}
