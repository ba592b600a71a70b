import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import type { PlanSet } from '../plan/plan-set.js';
import { PLAN_VERSION, type Plan } from '../plan/types.js';
import { validatorFor } from '../validation/validators.js';

/** Validates a plan object against schemas/plan.schema.json; problems as "path: message". */
export function planProblems(value: unknown): string[] {
  const validate = validatorFor('plan');
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? e.keyword}`);
}

/** A plan (or plan set) of another format version: said plainly, before the schema's details. */
function versionProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const { kind, version } = value as { kind?: unknown; version?: unknown };
  if (
    (kind !== 'imgsweep-plan' && kind !== 'imgsweep-plan-set') ||
    typeof version !== 'number' ||
    version === PLAN_VERSION
  )
    return null;
  return version < PLAN_VERSION
    ? `made by an older imgsweep (plan version ${version}): make a new plan`
    : `made by a newer imgsweep (plan version ${version}; this one reads version ${PLAN_VERSION}): apply it with that version, or make a new plan`;
}

/** Reads a plan file: one engine's plan, or a plan set for several engines. */
export async function readPlanFile(path: string): Promise<Plan | PlanSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(
      `cannot read the plan ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      { cause: err },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not a plan: not JSON (${(err as Error).message})`, { cause: err });
  }
  const version = versionProblem(value);
  if (version) throw new InputError(`${path} is not a plan this imgsweep can apply: ${version}`);
  const problems = planProblems(value);
  if (problems.length > 0)
    throw new InputError(`${path} is not a valid plan:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return value as Plan | PlanSet;
}
