import { UsageError } from '../../errors.js';
import { loadPolicyFile } from '../../policy/load.js';
import { formatProblem } from '../../policy/problems.js';
import { parseCommandArgs } from '../args.js';
import type { CliIo } from '../io.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
} as const;

export async function validateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('validate', args, OPTIONS);
  if (positionals.length === 0)
    throw new UsageError('validate: name at least one policy file (imgsweep validate POLICY...)');
  const results = [];
  for (const file of positionals) results.push({ file, result: await loadPolicyFile(file) });
  const allOk = results.every((r) => r.result.ok);
  if (values.json) {
    const files = results.map(({ file, result }) => ({
      file,
      ok: result.ok,
      problems: result.ok
        ? []
        : result.problems.map(({ line, col, path, code, message }) => ({ line, col, path, code, message })),
    }));
    io.stdout.write(`${JSON.stringify({ ok: allOk, files }, null, 2)}\n`);
    return allOk ? 0 : 2;
  }
  for (const { file, result } of results) {
    if (result.ok) {
      if (!values.quiet) io.stdout.write(`ok: ${file}\n`);
    } else {
      for (const p of result.problems) io.stderr.write(`${formatProblem(p)}\n`);
    }
  }
  return allOk ? 0 : 2;
}
