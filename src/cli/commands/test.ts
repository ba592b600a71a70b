import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { readInventoryFile } from '../../inventory/snapshot.js';
import { evaluatePolicy } from '../../plan/plan.js';
import { loadPolicyFile } from '../../policy/load.js';
import { check } from '../../policytest/check.js';
import { inlineInventory } from '../../policytest/inline.js';
import { loadPolicyTest } from '../../policytest/load.js';
import { formatExplain } from '../../report/explain-format.js';
import { formatTestJunit, formatTestText, totals, type FileOutcome } from '../../report/policy-test-format.js';
import { snapshotUsage } from '../../usage/fold.js';
import { parseCommandArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { parseFormat } from '../output.js';

export const OPTIONS = {
  format: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const TEST_FILE = /\.test\.ya?ml$/;

/** Policy unit tests: each file plans its policy against its inventory and checks what it expects. */
export async function testCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('test', args, OPTIONS);
  const format = parseFormat(values.format, ['text', 'junit'] as const, 'text');
  if (positionals.length === 0) throw new UsageError('test: name test files or folders: imgsweep test DIR|FILE...');
  const files: string[] = [];
  for (const p of positionals) files.push(...(await testFiles(p)));
  if (files.length === 0) throw new UsageError(`test: no test files (*.test.yaml) in ${positionals.join(', ')}`);
  const outcomes: FileOutcome[] = [];
  for (const file of files) outcomes.push(await runFile(file));
  if (!values.quiet || format === 'junit')
    io.stdout.write(format === 'junit' ? formatTestJunit(outcomes) : formatTestText(outcomes));
  const t = totals(outcomes);
  return t.errors > 0 ? 2 : t.failed > 0 ? 1 : 0;
}

/** A file as named; a folder's *.test.yaml files, in every subfolder, sorted. */
async function testFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return [path]; // reported as that file's error
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && TEST_FILE.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function runFile(file: string): Promise<FileOutcome> {
  const outcome: FileOutcome = { file, name: file, verdicts: [], explanations: new Map(), problems: [], error: null };
  const loaded = await loadPolicyTest(file);
  if (!loaded.ok) return { ...outcome, problems: loaded.problems };
  const test = loaded.test;
  outcome.name = test.name;
  const policy = await loadPolicyFile(test.policy);
  if (!policy.ok) return { ...outcome, problems: policy.problems };
  let now = test.now === null ? null : Date.parse(test.now);
  let inventory;
  try {
    if ('file' in test.inventory) {
      inventory = await readInventoryFile(test.inventory.file);
      now ??= Date.parse(inventory.capturedAt);
    } else {
      now ??= Date.now();
      inventory = inlineInventory(test.inventory.images, test.inventory.containers, now);
    }
  } catch (err) {
    return { ...outcome, error: (err as Error).message };
  }
  const ev = evaluatePolicy({
    policy: policy.policy,
    inventory: { ...inventory, usage: snapshotUsage(inventory) },
    now,
    trace: true,
  });
  outcome.verdicts = test.expect.map((e) => check(ev, e));
  outcome.verdicts.forEach((v, i) => {
    if (v.failures.length > 0 && v.actual.imageId !== null)
      outcome.explanations.set(i, formatExplain(ev, v.actual.imageId, v.actual.ref));
  });
  return outcome;
}
