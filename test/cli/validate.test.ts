import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInventoryFile } from '../../src/inventory/snapshot.js';
import { evaluatePolicy } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { formatPlanJson, formatPlanText } from '../../src/report/plan-format.js';
import { snapshotUsage } from '../../src/usage/fold.js';
import { runCli } from '../support/cli.js';

const INVENTORY = 'examples/inventory.json';
const NOW = '2026-11-27T12:00:00Z';
const SHIPPED = ['policies/ci-runner.yaml', 'policies/production-host.yaml', 'policies/dangling-only.yaml'];

/** Its second rule removes every image no container uses, and nothing limits a run. */
const WIPE = `version: 1
name: wipe
rules:
  - name: dangling
    match: { untagged: true }
  - name: everything
    match: { unused: true }
`;

let dir: string;
let wipe: string;
let bad: string;
/** The line validate, plan, apply and explain print about WIPE. */
let warning: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-validate-'));
  wipe = join(dir, 'wipe.yaml');
  bad = join(dir, 'bad.yaml');
  await writeFile(wipe, WIPE);
  await writeFile(bad, 'version: 1\nrules:\n  - name: x\n    match: { olderThan: soon }\n');
  warning =
    `${wipe}:6:5 rules[1]: warning: rule "everything" selects every image no container uses and the policy ` +
    'sets no limits, so one run can delete them all: give the rule olderThan, unusedFor or keep, or set ' +
    'limits.maxDeletionsPercent (e.g. 50)\n';
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ValidateJson {
  ok: boolean;
  files: { file: string; ok: boolean; problems: unknown[]; warnings: Record<string, unknown>[] }[];
}

describe('imgsweep validate and warnings', () => {
  it('prints ok and the positioned warning on stderr, and succeeds', async () => {
    expect(await runCli(['validate', wipe])).toEqual({ code: 0, stdout: `ok: ${wipe}\n`, stderr: warning });
  });

  it('prints neither with --quiet', async () => {
    expect(await runCli(['validate', '--quiet', wipe])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('fails a warned file with --strict (exit 2, no ok line), even with --quiet; other files still get theirs', async () => {
    expect(await runCli(['validate', '--strict', wipe])).toEqual({ code: 2, stdout: '', stderr: warning });
    expect(await runCli(['validate', '--strict', '--quiet', wipe])).toEqual({ code: 2, stdout: '', stderr: warning });
    const r = await runCli(['validate', '--strict', SHIPPED[0]!, wipe]);
    expect(r).toEqual({ code: 2, stdout: `ok: ${SHIPPED[0]}\n`, stderr: warning });
  });

  it('passes the shipped policies with --strict, without a warning', async () => {
    const r = await runCli(['validate', '--strict', ...SHIPPED]);
    expect(r).toEqual({ code: 0, stdout: SHIPPED.map((f) => `ok: ${f}\n`).join(''), stderr: '' });
  });

  it('still reports problems as before, with or without --strict', async () => {
    const plain = await runCli(['validate', bad]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/bad\.yaml:4:\d+ /);
    expect(plain.stderr).not.toContain('warning');
    expect(await runCli(['validate', '--strict', bad])).toEqual(plain);
  });

  it('lists warnings per file in --json, beside problems', async () => {
    const r = await runCli(['validate', '--json', wipe, bad, SHIPPED[2]!]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as ValidateJson;
    expect(out.ok).toBe(false);
    expect(out.files.map((f) => Object.keys(f))).toEqual(out.files.map(() => ['file', 'ok', 'problems', 'warnings']));
    const [w, b, d] = out.files;
    expect(w).toMatchObject({ file: wipe, ok: true, problems: [] });
    expect(w!.warnings).toEqual([
      {
        line: 6,
        col: 5,
        path: 'rules[1]',
        code: 'removes-everything',
        message: warning.split(' warning: ')[1]!.trim(),
      },
    ]);
    expect(b).toMatchObject({ file: bad, ok: false, warnings: [] });
    expect(b!.problems).not.toEqual([]);
    expect(d).toEqual({ file: SHIPPED[2], ok: true, problems: [], warnings: [] });
  });

  it('--json --strict: a warned file is not ok, and the run fails', async () => {
    const r = await runCli(['validate', '--json', '--strict', wipe]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as ValidateJson;
    expect(out.ok).toBe(false);
    expect(out.files[0]).toMatchObject({ ok: false, problems: [] });
    expect(out.files[0]!.warnings).toHaveLength(1);
    const ok = await runCli(['validate', '--json', '--strict', ...SHIPPED]);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as ValidateJson).ok).toBe(true);
  });

  it('help describes --strict', async () => {
    const { stdout } = await runCli(['help', 'validate']);
    expect(stdout).toMatch(/^ {2}--strict +\S/m);
    expect(stdout).toContain('[--strict]');
  });
});

describe('plan, explain and apply print the warning; it changes no plan', () => {
  const planOf = (...more: string[]) => runCli(['plan', '-p', wipe, '--inventory', INVENTORY, '--now', NOW, ...more]);

  /** WIPE's plan made by the library from the same bytes, without the command line (and its warnings). */
  async function expected(): Promise<Plan> {
    const r = parsePolicy(await readFile(wipe), wipe);
    if (!r.ok) throw new Error('WIPE is valid');
    const inventory = await readInventoryFile(INVENTORY);
    const usage = snapshotUsage(inventory);
    return evaluatePolicy({ policy: r.policy, inventory: { ...inventory, usage }, now: Date.parse(NOW) }).plan;
  }

  it('plan --format json: the warning on stderr, and on stdout exactly the plan the library makes', async () => {
    const r = await planOf('--format', 'json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(warning);
    const plan = await expected();
    expect(plan.summary.deletes).toBeGreaterThan(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(formatPlanJson(plan)));
    expect(r.stdout).toBe(formatPlanJson(plan));
  });

  it('plan as text: the same plan; -o writes the same JSON; --quiet prints no warning', async () => {
    const plan = await expected();
    const out = join(dir, 'plan.json');
    const r = await planOf('-o', out);
    expect(r).toEqual({ code: 0, stdout: formatPlanText(plan), stderr: warning });
    expect(await readFile(out, 'utf8')).toBe(formatPlanJson(plan));
    expect(await planOf('--quiet')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('plan of a policy without warnings prints nothing on stderr', async () => {
    const r = await runCli(['plan', '-p', SHIPPED[0]!, '--inventory', INVENTORY, '--now', NOW]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });

  it('explain: the warning on stderr unless --quiet, and the same explanation', async () => {
    const explain = (...more: string[]) =>
      runCli(['explain', 'redis:7', '-p', wipe, '--inventory', INVENTORY, '--now', NOW, ...more]);
    const r = await explain();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(warning);
    expect(r.stdout).toContain('redis:7');
    expect(await explain('--quiet')).toEqual({ ...r, stderr: '' });
  });

  it('apply -p: the warning before the engine is reached, unless --quiet', async () => {
    const apply = (...more: string[]) =>
      runCli(['apply', '-p', wipe, '--yes', '--host', 'unix:///nonexistent/docker.sock', '--timeout', '2s', ...more]);
    const r = await apply();
    expect(r.code).toBe(1);
    expect(r.stderr.startsWith(warning)).toBe(true);
    const quiet = await apply('--quiet');
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).not.toContain('warning');
    expect(quiet.stderr).toContain('nonexistent');
  });
});
