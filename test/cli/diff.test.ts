import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanDiff } from '../../src/diff/plan-diff.js';
import { runCli } from '../support/cli.js';

const INVENTORY = 'examples/inventory.json';
const NOW = '2026-11-27T12:00:00Z';
const CI_RUNNER = 'policies/ci-runner.yaml';

let dir: string;
let changed: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-diff-'));
  // The same policy, with pr-1* tags protected as well: every pr-1… build the old one deletes stays.
  const text = await readFile(CI_RUNNER, 'utf8');
  const protectedTags = text.replace(
    'tags: ["latest", "stable", "v*.*.*"]',
    'tags: ["latest", "stable", "v*.*.*", "pr-1*"]',
  );
  expect(protectedTags).not.toBe(text);
  changed = join(dir, 'changed.yaml');
  await writeFile(changed, protectedTags);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const diff = (...args: string[]) => runCli(['diff', ...args]);
const policies = (a: string, b: string, ...more: string[]) =>
  diff('-p', a, '-p', b, '--inventory', INVENTORY, '--now', NOW, ...more);

describe('imgsweep diff', () => {
  it('two policies on one inventory: the images whose fate changes, and exit 0 (1 with --exit-code)', async () => {
    const r = await policies(CI_RUNNER, changed);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Policy ci-runner \(policies\/ci-runner\.yaml, [0-9a-f]{12}\) -> ci-runner \(/);
    expect(r.stdout).toMatch(/^\d+ images change fate:$/m);
    // Every listed image was deleted and is now kept by the new protection (or only untagged).
    const table = r.stdout.split(/^\d+ images change fate:\n/m)[1]!.split('\n\n')[0]!;
    const rows = table.split('\n').filter((l) => /^ {2}[0-9a-f]{12} /.test(l));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/deleted by .* (kept: tag pr-1\d+.* \(protect\.tags\)|untagged by)/);
    expect((await policies(CI_RUNNER, changed, '--exit-code')).code).toBe(1);
  });

  it('the same policy twice: nothing changes, exit 0 also with --exit-code', async () => {
    const r = await policies(CI_RUNNER, CI_RUNNER, '--exit-code');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No image, reference, container or build-cache record changes fate.');
  });

  it('two saved plans give the same changes as the two policies', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    for (const [policy, out] of [
      [CI_RUNNER, a],
      [changed, b],
    ] as const) {
      const p = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW, '-o', out, '--quiet']);
      expect(p.code, p.stderr).toBe(0);
    }
    const fromPlans = JSON.parse((await diff(a, b, '--format', 'json')).stdout) as PlanDiff;
    const fromPolicies = JSON.parse((await policies(CI_RUNNER, changed, '--json')).stdout) as PlanDiff;
    expect(fromPlans.kind).toBe('imgsweep-plan-diff');
    expect(fromPlans.images).toEqual(fromPolicies.images);
    expect(fromPlans.containers).toEqual(fromPolicies.containers);
    expect(fromPlans.bytes).toBe(fromPolicies.bytes);
    expect(fromPlans.bytes).toBeLessThan(0);
    expect(fromPlans.notes).toEqual([]);
  });

  it('Markdown for a pull-request comment', async () => {
    const r = await policies(CI_RUNNER, changed, '--format', 'markdown');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^### imgsweep: what the policy change does\n/);
    expect(r.stdout).toMatch(/^\| image \| references \| before \| after \| bytes \|$/m);
    expect(r.stdout).toMatch(/^\| `[0-9a-f]{12}` \| `registry\.acme\.io\/ci\/[a-z]+:pr-1\d+` \| deleted by /m);
  });

  it.each([
    [['-p', CI_RUNNER], /give two policies, old then new/],
    [['-p', CI_RUNNER, '-p', CI_RUNNER, '-p', CI_RUNNER], /give two policies, old then new/],
    [['only-one.json'], /give two plans .* or two policies/],
    [['a.json', 'b.json', '--inventory', INVENTORY], /--inventory is for two policies/],
    [['--format', 'html', '-p', CI_RUNNER, '-p', CI_RUNNER], /--format/],
  ])('bad usage %j: exit 2 and one line saying why', async (args, message) => {
    const r = await diff(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('a bad policy: exit 2 with its position; a file that is not a plan, or a plan set: exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'version: 1\nrules:\n  - name: x\n    match: { repositories: ["**"] }\n    olderThan: soon\n');
    const r = await policies(CI_RUNNER, bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:5:16 rules\\[0\\]\\.olderThan`));

    const notPlan = join(dir, 'not-plan.json');
    await writeFile(notPlan, '{"kind":"something-else"}');
    const n = await diff(notPlan, notPlan);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain(notPlan);

    const one = join(dir, 'one.json');
    expect(
      (await runCli(['plan', '-p', CI_RUNNER, '--inventory', INVENTORY, '--now', NOW, '-o', one, '-q'])).code,
    ).toBe(0);
    const plan = JSON.parse(await readFile(one, 'utf8')) as { version: number };
    const set = join(dir, 'set.json');
    await writeFile(set, JSON.stringify({ kind: 'imgsweep-plan-set', version: plan.version, plans: [plan] }));
    const s = await diff(set, set);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/several engines/);
  });
});
