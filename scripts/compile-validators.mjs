/**
 * Part of `npm run build`: compiles the policy, plan and inventory schemas ahead of time with ajv's standalone
 * code generator, into dist/validation/compiled/NAME.cjs (see src/validation/validators.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const standaloneCode = require('ajv/dist/standalone').default;
const { newAjv, readSchema, SCHEMA_OPTIONS } = await import('../dist/validation/validators.js');

const out = new URL('../dist/validation/compiled/', import.meta.url);
mkdirSync(out, { recursive: true });
for (const name of Object.keys(SCHEMA_OPTIONS)) {
  const ajv = newAjv(name, true);
  const validate = ajv.compile(readSchema(name));
  writeFileSync(new URL(`${name}.cjs`, out), `${standaloneCode(ajv, validate)}\n`);
}
