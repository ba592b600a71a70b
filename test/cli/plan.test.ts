import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planProblems } from '../../src/execute/plan-file.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';

// Relative paths on purpose: the plan records the policy file as given, and the snapshots hold it.
const INVENTORY = 'examples/inventory.json';
const NOW = '2026-11-27T12:00:00Z';
const CI_RUNNER = 'policies/ci-runner.yaml';

const plan = (policy: string, ...more: string[]) =>
  runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW, ...more]);

/** A deterministic Fisher-Yates shuffle (a small LCG), so a failure can be replayed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('imgsweep plan against the example inventory', () => {
  it('evaluates with exit 0 and writes nothing to stderr', async () => {
    const r = await plan(CI_RUNNER);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^imgsweep plan: policy ci-runner \(policies\/ci-runner\.yaml\) on ci-runner-07/);
    expect(r.stdout).toMatch(/^Plan: delete \d+ images .*; keep \d+ images of 62\.$/m);
  });

  it('prints the plan as JSON', async () => {
    const r = await plan(CI_RUNNER, '--format', 'json');
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as Plan;
    expect(parsed).toMatchObject({
      kind: 'imgsweep-plan',
      version: 3,
      createdAt: '2026-11-27T12:00:00.000Z',
      refused: null,
    });
    expect(parsed.policy).toMatchObject({ name: 'ci-runner', file: CI_RUNNER, stoppedContainers: 'remove' });
    expect(parsed.summary.images).toBe(62);
    expect(parsed.summary.deletes).toBe(parsed.actions.filter((a) => a.type === 'delete').length);
    expect(parsed.summary.deletes).toBeGreaterThan(0);
  });

  it.each([
    ['ci-runner', CI_RUNNER],
    ['production-host', 'policies/production-host.yaml'],
    ['dangling-only', 'policies/dangling-only.yaml'],
  ])('prints %s JSON valid against schemas/plan.schema.json', async (_name, policy) => {
    const r = await plan(policy, '--format', 'json');
    expect(r.code).toBe(0);
    expect(planProblems(JSON.parse(r.stdout))).toEqual([]);
  });

  it('gives byte-identical JSON on two runs', async () => {
    const [a, b] = [await plan(CI_RUNNER, '--format', 'json'), await plan(CI_RUNNER, '--format', 'json')];
    expect(b.stdout).toBe(a.stdout);
  });

  it.each([1, 2, 3])(
    'gives byte-identical JSON when the inventory lists images and containers in another order (seed %i)',
    async (seed) => {
      const inventory = JSON.parse(readFileSync(INVENTORY, 'utf8')) as { images: unknown[]; containers: unknown[] };
      const shuffled = {
        ...inventory,
        images: shuffle(inventory.images, seed),
        containers: shuffle(inventory.containers, seed * 7),
      };
      expect(shuffled.images).not.toEqual(inventory.images);
      const file = join(dir, `shuffled-${seed}.json`);
      await writeFile(file, JSON.stringify(shuffled, null, 1));
      const original = await plan(CI_RUNNER, '--format', 'json');
      const other = await runCli(['plan', '-p', CI_RUNNER, '--inventory', file, '--now', NOW, '--format', 'json']);
      expect(other.code).toBe(0);
      expect(other.stdout).toBe(original.stdout);
    },
  );

  it('gives byte-identical JSON when each image lists its tags and digests in another order', async () => {
    const inventory = JSON.parse(readFileSync(INVENTORY, 'utf8')) as {
      images: { repoTags: string[]; repoDigests: string[] }[];
    };
    const reordered = {
      ...inventory,
      images: inventory.images.map((i) => ({
        ...i,
        repoTags: [...i.repoTags].reverse(),
        repoDigests: [...i.repoDigests].reverse(),
      })),
    };
    const file = join(dir, 'reversed-refs.json');
    await writeFile(file, JSON.stringify(reordered));
    const original = await plan(CI_RUNNER, '--format', 'json');
    const other = await runCli(['plan', '-p', CI_RUNNER, '--inventory', file, '--now', NOW, '--format', 'json']);
    expect(other.code).toBe(0);
    expect(other.stdout).toBe(original.stdout);
  });

  it('writes with -o the same bytes that --format json prints, and still prints text', async () => {
    const out = join(dir, 'plan.json');
    const written = await plan(CI_RUNNER, '-o', out);
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^imgsweep plan: /);
    const json = await plan(CI_RUNNER, '--format', 'json');
    expect(await readFile(out, 'utf8')).toBe(json.stdout);
  });

  describe('formats (snapshots)', () => {
    it.each([
      ['text', 'txt'],
      ['markdown', 'md'],
      ['json', 'json'],
    ])('ci-runner as %s', async (format, ext) => {
      const r = await plan(CI_RUNNER, '--format', format);
      expect(r.code).toBe(0);
      await expect(r.stdout).toMatchFileSnapshot(`./__snapshots__/plan-ci-runner.${ext}`);
    });

    it.each(['production-host', 'dangling-only'])('%s as text', async (name) => {
      const r = await plan(`policies/${name}.yaml`);
      expect(r.code).toBe(0);
      await expect(r.stdout).toMatchFileSnapshot(`./__snapshots__/plan-${name}.txt`);
    });

    it('text is the default format', async () => {
      expect((await plan(CI_RUNNER)).stdout).toBe((await plan(CI_RUNNER, '--format', 'text')).stdout);
    });
  });

  it('reports a plan over limits.maxDeletions as REFUSED, still with exit 0', async () => {
    const policy = join(dir, 'limited.yaml');
    await writeFile(
      policy,
      'version: 1\nrules:\n  - name: dangling\n    match: { untagged: true }\n    olderThan: 1h\nlimits: {maxDeletions: 1}\n',
    );
    const text = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^REFUSED: the plan deletes \d+ images, more than limits\.maxDeletions \(1\)/m);
    const json = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW, '--format', 'json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as Plan;
    expect(parsed.refused).toMatchObject({ reason: 'max-deletions', limit: 1, images: 62 });
    expect(parsed.summary.deletes).toBeGreaterThan(1);
  });
});

describe('imgsweep plan: images the snapshot has no usage data for', () => {
  // nginx:1.27-alpine has no usage entry in the example; curlimages/curl has one (first seen 39 days ago).
  // The snapshot was captured at 11:00, an hour before --now: nginx counts as first seen and used then.
  const NGINX = 'sha256:68a5da0a1fa6';
  const CURL = 'sha256:36814dace63a';
  const planFor = async (body: string) => {
    const policy = join(dir, `usage-${Math.random().toString(16).slice(2)}.yaml`);
    await writeFile(policy, `version: 1\n${body}`);
    const r = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW, '--format', 'json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as Plan;
    const deleted = (prefix: string) => parsed.actions.some((a) => a.type === 'delete' && a.imageId.startsWith(prefix));
    const kept = (prefix: string) => parsed.kept.find((k) => k.imageId.startsWith(prefix));
    return { deleted, kept };
  };
  const rule = (condition: string) =>
    `rules:\n  - name: web\n    match: { repositories: ["nginx", "curlimages/curl"] }\n    ${condition}\n`;

  it('protect.youngerThan protects them: first seen at capture time', async () => {
    const { deleted, kept } = await planFor(`protect: { youngerThan: 2h }\n${rule('olderThan: 14d')}`);
    expect(deleted(CURL)).toBe(true);
    expect(deleted(NGINX)).toBe(false);
    expect(kept(NGINX)).toMatchObject({
      reason: 'protected-age',
      protection: { kind: 'youngerThan', youngerThanMs: 7_200_000, since: 'first-seen' },
    });
  });

  it('unusedFor does not select them: used when first seen, at capture time', async () => {
    const { deleted } = await planFor(rule('unusedFor: 2h'));
    expect(deleted(CURL)).toBe(true);
    expect(deleted(NGINX)).toBe(false);
  });
});

describe("imgsweep plan without the engine's disk accounting", () => {
  // The example inventory without any image's layers, as when the engine's accounting could not be had.
  const blind = async (reason?: string) => {
    const inventory = JSON.parse(readFileSync(INVENTORY, 'utf8')) as {
      images: { layers?: unknown }[];
      accountingUnavailable?: string;
    };
    for (const i of inventory.images) delete i.layers;
    if (reason) inventory.accountingUnavailable = reason;
    const file = join(dir, `blind-${reason ? 'said' : 'unsaid'}.json`);
    await writeFile(file, JSON.stringify(inventory));
    return file;
  };

  it('skips the disk budget, says why, still applies the rules, and exits 1', async () => {
    const why = '/system/df: a disk usage operation is already running, after 5 tries in 60 s';
    const file = await blind(why);
    const text = await runCli(['plan', '-p', CI_RUNNER, '--inventory', file, '--now', NOW]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      `\nDisk: disk budget skipped: the engine's disk accounting is unavailable (${why})\n`,
    );
    expect(text.stdout).toMatch(/^Plan: delete \d+ images \(est\. unknown\), /m);
    expect(text.stderr).toBe(`imgsweep: disk budget skipped: the engine's disk accounting is unavailable (${why})\n`);
    const json = await runCli(['plan', '-p', CI_RUNNER, '--inventory', file, '--now', NOW, '--format', 'json']);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as Plan;
    expect(planProblems(parsed)).toEqual([]);
    expect(parsed.disk).toMatchObject({ status: 'accounting-unavailable', evicted: 0, cause: why });
    expect(parsed.summary).toMatchObject({ bytes: null, estimate: 'unavailable' });
    expect(parsed.actions.filter((a) => a.rule === 'disk')).toEqual([]);
    expect(parsed.actions.filter((a) => a.type === 'delete').length).toBeGreaterThan(0);
    expect(parsed.actions.filter((a) => a.bytes !== undefined)).toEqual([]);
  });

  it('without a disk section, an unknown estimate is no failure', async () => {
    const r = await runCli(['plan', '-p', 'policies/dangling-only.yaml', '--inventory', await blind(), '--now', NOW]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Plan: delete 6 images \(est\. unknown\), untag 0 references; keep 56 images of 62\.$/m);
  });
});

describe('imgsweep plan on bad input', () => {
  it('rejects an invalid policy with exit 2, FILE:LINE:COL path: message on stderr and nothing on stdout', async () => {
    const policy = join(dir, 'invalid.yaml');
    await writeFile(
      policy,
      'version: 1\nrules:\n  - name: old\n    match: { untagged: true }\n    olderThan: 3 days\n',
    );
    const r = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${policy}:5:16 rules[0].olderThan: "3 days" is not a duration (examples: 90m, 3d, 1d12h)\n`);
  });

  it('names every problem of an invalid policy, one per line', async () => {
    const policy = join(dir, 'two-problems.yaml');
    await writeFile(
      policy,
      'version: 1\nrules:\n  - name: a\n    match: { untagged: true }\n    olderThan: soon\n    colour: red\n',
    );
    const r = await runCli(['plan', '-p', policy, '--inventory', INVENTORY, '--now', NOW]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(line).toMatch(
        new RegExp(`^${policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ rules\\[0\\]\\.\\S+: `),
      );
    expect(r.stderr).toContain('rules[0].olderThan');
    expect(r.stderr).toContain('rules[0].colour');
  });

  it('rejects a missing policy file with exit 2', async () => {
    const r = await runCli(['plan', '-p', join(dir, 'no-such-policy.yaml'), '--inventory', INVENTORY, '--now', NOW]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no-such-policy.yaml');
  });

  it('needs -p', async () => {
    const r = await runCli(['plan', '--inventory', INVENTORY, '--now', NOW]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/-p POLICY/);
  });

  it('rejects an unknown --format', async () => {
    const r = await plan(CI_RUNNER, '--format', 'xml');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/--format: "xml" is not one of text, json, markdown/);
  });

  it('rejects a --now that is not an ISO date-time', async () => {
    for (const now of ['yesterday', '1700000000', '2026-13-45T00:00:00Z']) {
      const r = await runCli(['plan', '-p', CI_RUNNER, '--inventory', INVENTORY, '--now', now]);
      expect(r, now).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr, now).toContain(`--now: "${now}"`);
    }
  });

  it('rejects an unknown option and a stray argument', async () => {
    const option = await plan(CI_RUNNER, '--colour');
    expect(option).toMatchObject({ code: 2, stdout: '' });
    expect(option.stderr).toContain('--colour');
    const positional = await plan(CI_RUNNER, 'extra.yaml');
    expect(positional).toMatchObject({ code: 2, stdout: '' });
    expect(positional.stderr).toContain('extra.yaml');
  });

  it('names a missing --inventory file and how to make one', async () => {
    const missing = join(dir, 'no-such-inventory.json');
    const r = await runCli(['plan', '-p', CI_RUNNER, '--inventory', missing, '--now', NOW]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(`imgsweep: ${missing}: no such file (save one with: imgsweep inventory -o ${missing})\n`);
  });

  it('rejects a corrupt inventory with exit 2 and the position', async () => {
    const truncated = join(dir, 'truncated.json');
    await writeFile(truncated, readFileSync(INVENTORY, 'utf8').slice(0, 500));
    const r = await runCli(['plan', '-p', CI_RUNNER, '--inventory', truncated, '--now', NOW]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(new RegExp(`^imgsweep: ${truncated}:\\d+:\\d+: not valid JSON`));
  });

  it('rejects an inventory that breaks the schema with exit 2 and the key path', async () => {
    const broken = join(dir, 'broken.json');
    const inventory = JSON.parse(readFileSync(INVENTORY, 'utf8')) as { images: { id: string }[] };
    inventory.images[3]!.id = 'not-an-id';
    await writeFile(broken, JSON.stringify(inventory));
    const r = await runCli(['plan', '-p', CI_RUNNER, '--inventory', broken, '--now', NOW]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`${broken}: images[3].id: `);
  });

  it('rejects a file that is not an inventory (a plan) with exit 2', async () => {
    const planFile = join(dir, 'a-plan.json');
    await writeFile(planFile, (await plan(CI_RUNNER, '--format', 'json')).stdout);
    const r = await runCli(['plan', '-p', CI_RUNNER, '--inventory', planFile, '--now', NOW]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/not an inventory snapshot/);
  });

  it('says in one line that the engine is unreachable, naming the socket and what to check (exit 1)', async () => {
    const r = await runCli(['plan', '-p', CI_RUNNER, '--host', 'unix:///nonexistent/docker.sock', '--now', NOW]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/nonexistent/docker.sock');
    expect(r.stderr).toContain('check the address given with --host');
    expect(r.stderr).not.toContain('DOCKER_HOST');
  });

  it('reaches for DOCKER_HOST when there is no --host, and says so', async () => {
    const r = await runCli(['plan', '-p', CI_RUNNER, '--now', NOW], {
      env: { DOCKER_HOST: 'unix:///nonexistent/other.sock' },
    });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/nonexistent/other.sock');
    expect(r.stderr).toContain('DOCKER_HOST');
  });
});
