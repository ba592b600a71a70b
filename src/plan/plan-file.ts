import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { InputError } from '../errors.js';
import type { PlanSet } from './plan-set.js';
import type { Plan } from './types.js';

let cached: ValidateFunction | null = null;

function validator(): ValidateFunction {
  if (!cached) {
    const ajv = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false });
    addFormats.default(ajv, ['date-time']);
    cached = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8')) as object);
  }
  return cached;
}

/** Validates a plan object against schemas/plan.schema.json; problems as "path: message". */
export function planProblems(value: unknown): string[] {
  const validate = validator();
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
