import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { planProblems, readPlanFile } from '../../src/execute/plan-file.js';
import { makePlan } from '../../src/plan/plan.js';
import { PLAN_VERSION } from '../../src/plan/types.js';
import { image, inventory, layered, NOW, policy } from '../support/builders.js';
import { runCli } from '../support/cli.js';

const plan = makePlan({
  policy: policy('version: 1\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n'),
  inventory: inventory(layered([image('a', { tags: ['a:1'] })])),
  now: NOW,
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-plan-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const saved = async (name: string, value: unknown) => {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(value));
  return file;
};

describe('readPlanFile', () => {
  it('reads a plan and a plan set of this version', async () => {
    expect(await readPlanFile(await saved('plan.json', plan))).toEqual(plan);
    const set = { kind: 'imgsweep-plan-set', version: PLAN_VERSION, plans: [plan] };
    expect(await readPlanFile(await saved('set.json', set))).toEqual(set);
  });

  it.each([
    [
      'a plan',
      {
        ...plan,
        version: 1,
        kept: [{ imageId: plan.actions[0]!.imageId, refs: [], reason: 'not-selected', detail: 'no rule selects it' }],
      },
    ],
    ['a plan set', { kind: 'imgsweep-plan-set', version: 1, plans: [{ ...plan, version: 1 }] }],
  ])('says plainly that %s made by an older imgsweep must be made again (exit 2)', async (_what, old) => {
    const file = await saved('old.json', old);
    const error = await readPlanFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).exitCode).toBe(2);
    expect((error as Error).message).toBe(
      `${file} is not a plan this imgsweep can apply: made by an older imgsweep (plan version 1): make a new plan`,
    );
  });

  it('says so of a plan from a newer imgsweep', async () => {
    const file = await saved('new.json', { ...plan, version: PLAN_VERSION + 1 });
    await expect(readPlanFile(file)).rejects.toThrow(
      `made by a newer imgsweep (plan version ${PLAN_VERSION + 1}; this one reads version ${PLAN_VERSION})`,
    );
  });

  it('a plan of this version that breaks the schema names the path', async () => {
    const file = await saved('broken.json', { ...plan, summary: { ...plan.summary, estimate: 'sizes' } });
    await expect(readPlanFile(file)).rejects.toThrow(
      /is not a valid plan:\n {2}\/summary\/estimate: must be equal to one of the allowed values/,
    );
  });

  it('the schema holds bytes and the estimate together: bytes on every delete, or on none and a null total', () => {
    const del = plan.actions[0]!;
    expect(planProblems(plan)).toEqual([]);
    const { bytes: _bytes, ...noBytes } = del;
    const blind = { ...plan, actions: [noBytes], summary: { ...plan.summary, bytes: null, estimate: 'unavailable' } };
    expect(planProblems(blind)).toEqual([]);
    expect(planProblems({ ...plan, actions: [noBytes] })).toContain("/actions/0: must have required property 'bytes'");
    expect(planProblems({ ...blind, actions: [del] })).not.toEqual([]);
    expect(planProblems({ ...blind, summary: { ...blind.summary, bytes: 0 } })).toContain(
      '/summary/bytes: must be null',
    );
  });

  it('apply refuses an old plan with exit 2 before it reaches for an engine', async () => {
    const file = await saved('old-apply.json', { ...plan, version: 1 });
    const r = await runCli(['apply', file, '--yes', '--host', 'unix:///nonexistent/docker.sock']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('made by an older imgsweep (plan version 1): make a new plan');
  });
});
