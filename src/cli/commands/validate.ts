import { UsageError } from '../../errors.js';
import { loadPolicyFile } from '../../policy/load.js';
import { formatProblem } from '../../policy/problems.js';
import { formatWarning } from '../../policy/warnings.js';
import { parseCommandArgs } from '../args.js';
import type { CliIo } from '../io.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  json: { type: 'boolean' },
  strict: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
} as const;

export async function validateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('validate', args, OPTIONS);
  if (positionals.length === 0)
    throw new UsageError('validate: name at least one policy file (imgsweep validate POLICY...)');
  const results = [];
  for (const file of positionals) {
    const result = await loadPolicyFile(file);
    const warnings = result.ok ? result.warnings : [];
    // Under --strict a warning fails its file as a problem would.
    results.push({ file, result, warnings, ok: result.ok && !(values.strict && warnings.length > 0) });
  }
  const allOk = results.every((r) => r.ok);
  if (values.json) {
    const files = results.map(({ file, result, warnings, ok }) => ({
      file,
      ok,
      problems: result.ok
        ? []
        : result.problems.map(({ line, col, path, code, message }) => ({ line, col, path, code, message })),
      warnings: warnings.map(({ line, col, path, code, message }) => ({ line, col, path, code, message })),
    }));
    io.stdout.write(`${JSON.stringify({ ok: allOk, files }, null, 2)}\n`);
    return allOk ? 0 : 2;
  }
  for (const { file, result, warnings, ok } of results) {
    if (!result.ok) {
      for (const p of result.problems) io.stderr.write(`${formatProblem(p)}\n`);
      continue;
    }
    if (ok && !values.quiet) io.stdout.write(`ok: ${file}\n`);
    if (!ok || !values.quiet) for (const w of warnings) io.stderr.write(`${formatWarning(w)}\n`);
  }
  return allOk ? 0 : 2;
}
