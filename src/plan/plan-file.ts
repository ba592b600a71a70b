import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { validatorFor } from '../validation/validators.js';
import type { PlanSet } from './plan-set.js';
import type { Plan } from './types.js';

/** Validates a plan object against schemas/plan.schema.json; problems as "path: message". */
export function planProblems(value: unknown): string[] {
  const validate = validatorFor('plan');
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? e.keyword}`);
}

/** Reads a plan file: one engine's plan, or a plan set for several engines. */
export async function readPlanFile(path: string): Promise<Plan | PlanSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read the plan ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not a plan: not JSON (${(err as Error).message})`, { cause: err });
  }
  const problems = planProblems(value);
  if (problems.length > 0) throw new InputError(`${path} is not a valid plan:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return value as Plan | PlanSet;
}
