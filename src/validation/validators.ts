/**
 * The JSON Schema validators of policies, plans and inventories. `npm run build` compiles each schema ahead of
 * time (scripts/compile-validators.mjs, ajv's standalone code) into dist/validation/compiled/NAME.cjs, so a run
 * loads neither ajv's compiler nor pays ~100 ms per schema; from the sources (tests), or if a compiled file is
 * missing, the schema is compiled here on first use, with the same options.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';

export type SchemaName = 'policy' | 'plan' | 'inventory' | 'policy-test';

/** ajv options per schema (shared by the build and the fallback, so both validate alike). */
export const SCHEMA_OPTIONS: Record<SchemaName, { options: Record<string, unknown>; formats: string[] }> = {
  policy: { options: { allErrors: true, strict: true, verbose: true }, formats: [] },
  plan: { options: { allErrors: true, strict: true, strictRequired: false }, formats: ['date-time'] },
  inventory: { options: { allErrors: true, strict: true, allowUnionTypes: true }, formats: ['date-time'] },
  'policy-test': { options: { allErrors: true, strict: true, verbose: true }, formats: [] },
};

const require = createRequire(import.meta.url);
const cache = new Map<SchemaName, ValidateFunction>();

export function schemaFile(name: SchemaName): URL {
  return new URL(`../../schemas/${name}.schema.json`, import.meta.url);
}

export function readSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaFile(name), 'utf8')) as Record<string, unknown>;
}

interface AjvLike {
  compile(schema: object): ValidateFunction;
}

/** A fresh ajv for one schema; `source` keeps the generated code for standalone output (the build). */
export function newAjv(name: SchemaName, source = false): AjvLike {
  const { options, formats } = SCHEMA_OPTIONS[name];
  const Ajv2020 = (require('ajv/dist/2020.js') as { default: new (o: object) => AjvLike }).default;
  const ajv = new Ajv2020({ ...options, ...(source ? { code: { source: true } } : {}) });
  if (formats.length > 0)
    (require('ajv-formats') as { default: (a: AjvLike, f: string[]) => void }).default(ajv, formats);
  return ajv;
}

/** The validator for a schema: the build's precompiled one when present, else compiled now (once per process). */
export function validatorFor(name: SchemaName): ValidateFunction {
  let validate = cache.get(name);
  if (validate) return validate;
  try {
    validate = require(`../validation/compiled/${name}.cjs`) as ValidateFunction;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    validate = newAjv(name).compile(readSchema(name));
  }
  cache.set(name, validate);
  return validate;
}
