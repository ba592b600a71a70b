import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makePlan } from '../../src/plan/plan.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { newAjv, readSchema, SCHEMA_OPTIONS, validatorFor, type SchemaName } from '../../src/validation/validators.js';

/**
 * The build ships each schema precompiled (ajv standalone code, scripts/compile-validators.mjs); the sources
 * compile at first use. Both must judge every document alike, errors included: the policy errors users read
 * are made from them.
 */

const ROOT = new URL('../..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const standaloneCode = (require('ajv/dist/standalone') as { default: (ajv: unknown, v: ValidateFunction) => string })
  .default;

/** What the build writes, loaded the way validatorFor loads it (a .cjs beside node_modules). */
function standalone(name: SchemaName): ValidateFunction {
  const ajv = newAjv(name, true);
  const code = standaloneCode(ajv, ajv.compile(readSchema(name)));
  const dir = join(ROOT, '.imgsweep-test', 'validators');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${process.pid}.cjs`);
  writeFileSync(file, code);
  try {
    return require(file) as ValidateFunction;
  } finally {
    rmSync(file);
  }
}

function judge(v: ValidateFunction, doc: unknown): { valid: boolean; errors: unknown } {
  const valid = v(doc);
  // schema/parentSchema are the same objects' copies: compare by value.
  return { valid, errors: JSON.parse(JSON.stringify(v.errors ?? null)) as unknown };
}

function expectAlike(name: SchemaName, docs: unknown[]): void {
  const built = standalone(name);
  const compiled = newAjv(name).compile(readSchema(name));
  let invalid = 0;
  for (const doc of docs) {
    const a = judge(built, doc);
    expect(a).toEqual(judge(compiled, doc));
    if (!a.valid) invalid++;
  }
  // Both kinds were really exercised.
  expect(invalid).toBeGreaterThan(0);
  expect(invalid).toBeLessThan(docs.length);
}

const mutations = (doc: Record<string, unknown>): unknown[] => [
  doc,
  { ...doc, extra: 1 },
  { ...doc, version: '1' },
  Object.fromEntries(Object.entries(doc).slice(1)),
  [],
  null,
];

describe('precompiled validators', () => {
  it('policy: the same verdicts and errors on every example and every invalid-corpus policy', () => {
    const dir = join(ROOT, 'test', 'policy', 'invalid');
    const docs: unknown[] = [];
    for (const f of readdirSync(dir)) {
      try {
        docs.push(parse(readFileSync(join(dir, f), 'utf8')));
      } catch {
        // YAML syntax errors never reach the schema.
      }
    }
    for (const f of readdirSync(join(ROOT, 'policies')).filter((name) => name.endsWith('.yaml')))
      docs.push(...mutations(parse(readFileSync(join(ROOT, 'policies', f), 'utf8')) as Record<string, unknown>));
    expect(docs.length).toBeGreaterThan(60);
    expectAlike('policy', docs);
  });

  it('policy-test: the same verdicts and errors on the shipped policy tests and broken copies', () => {
    const dir = join(ROOT, 'policies', 'tests');
    const docs = readdirSync(dir).flatMap((f) =>
      mutations(parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>),
    );
    expect(docs.length).toBeGreaterThan(10);
    expectAlike('policy-test', docs);
  });

  it('inventory and plan: the same verdicts and errors on the example inventory, its plan and broken copies', async () => {
    const inventory = JSON.parse(readFileSync(join(ROOT, 'examples', 'inventory.json'), 'utf8')) as Record<
      string,
      unknown
    > & { images: Record<string, unknown>[] };
    const brokenImage = {
      ...inventory,
      images: [{ ...inventory.images[0], created: 'yesterday', id: 'sha256:xyz' }, ...inventory.images.slice(1)],
    };
    expectAlike('inventory', [...mutations(inventory), brokenImage]);

    const loaded = await loadPolicyFile(join(ROOT, 'policies', 'ci-runner.yaml'));
    if (!loaded.ok) throw new Error('example policy invalid');
    const { readInventoryFile } = await import('../../src/inventory/snapshot.js');
    const plan = JSON.parse(
      JSON.stringify(
        makePlan({
          policy: loaded.policy,
          inventory: await readInventoryFile(join(ROOT, 'examples', 'inventory.json')),
          now: Date.parse('2026-11-27T12:00:00Z'),
        }),
      ),
    ) as Record<string, unknown>;
    expectAlike('plan', [
      ...mutations(plan),
      { ...plan, createdAt: 'now' },
      { kind: 'imgsweep-plan-set', version: 1, plans: [plan] },
      { kind: 'imgsweep-plan-set', version: 1, plans: [{ ...plan, actions: 'none' }] },
    ]);
  });

  it('validatorFor compiles from the sources when no build output is there, once per process', () => {
    for (const name of Object.keys(SCHEMA_OPTIONS) as SchemaName[]) {
      const v = validatorFor(name);
      expect(typeof v).toBe('function');
      expect(validatorFor(name)).toBe(v);
    }
  });
});
