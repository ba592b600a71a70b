/**
 * `imgsweep diff` on two 10,000-image plans, through the CLI in fresh processes: a synthetic inventory
 * (synthetic.mjs), planned by two policies that differ in a protection and an age; both plans saved first.
 *   plan     imgsweep plan -p A.yaml --inventory inv.json --format json   (the baseline: one plan)
 *   diff     imgsweep diff A-plan.json B-plan.json                        (target: at most 2x the plan)
 *   policies imgsweep diff -p A.yaml -p B.yaml --inventory inv.json       (plans both, then compares; informational)
 * Medians of --runs runs each, interleaved.
 *
 *   node bench/diff.bench.mjs [--images 10000] [--runs 5]     (after npm run build)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, imgsweep } from './engine.mjs';
import { emitResults, log, median, row } from './result.mjs';
import { NOW, syntheticInventory } from './synthetic.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const IMAGES = Number(opt('--images', 10_000));
const RUNS = Number(opt('--runs', 5));
const now = new Date(NOW).toISOString();

const RULES = (age, extraProtect) => `version: 1
protect:
  tags: ["latest", "stable"${extraProtect}]
rules:
  - name: untagged
    match: { untagged: true }
  - name: old
    match: { repositories: ["**"] }
    olderThan: ${age}
    keep: { newest: 2, per: repository }
limits: { maxDeletionsPercent: 100 }
`;

const work = mkdtempSync(join(tmpdir(), 'imgsweep-diff-bench-'));
try {
  const inv = join(work, 'inv.json');
  writeFileSync(inv, JSON.stringify(syntheticInventory(IMAGES, 11)));
  const a = join(work, 'a.yaml');
  const b = join(work, 'b.yaml');
  writeFileSync(a, RULES('30d', ''));
  writeFileSync(b, RULES('21d', ', "v1*"'));
  const planA = join(work, 'a.json');
  const planB = join(work, 'b.json');
  for (const [policy, out] of [
    [a, planA],
    [b, planB],
  ])
    check(await imgsweep(['plan', '-p', policy, '--inventory', inv, '--now', now, '-o', out, '--quiet']), 'plan -o');
  const times = { plan: [], diff: [], policies: [] };
  let changes = 0;
  for (let i = 0; i < RUNS; i++) {
    times.plan.push(
      check(await imgsweep(['plan', '-p', a, '--inventory', inv, '--now', now, '--format', 'json']), 'plan').ms,
    );
    const d = check(await imgsweep(['diff', planA, planB, '--json']), 'diff');
    changes = JSON.parse(d.stdout).images.length;
    times.diff.push(d.ms);
    times.policies.push(
      check(await imgsweep(['diff', '-p', a, '-p', b, '--inventory', inv, '--now', now, '--json']), 'diff -p').ms,
    );
    log(
      `diff: run ${i + 1}: plan ${times.plan[i].toFixed(0)} ms, diff ${times.diff[i].toFixed(0)} ms, diff -p -p ${times.policies[i].toFixed(0)} ms`,
    );
  }
  const plan = median(times.plan);
  emitResults(
    'diff',
    [
      row(`diff of two ${IMAGES}-image plans (CLI)`, median(times.diff), 'ms', {
        baseline: plan,
        baselineName: `plan of ${IMAGES} images (CLI, JSON out)`,
        atMost: Math.round(2 * plan),
      }),
      row(`diff of two policies on ${IMAGES} images (CLI, plans both)`, median(times.policies), 'ms', {
        baseline: plan,
        baselineName: `plan of ${IMAGES} images (CLI, JSON out)`,
      }),
    ],
    [`${changes} images change fate between the two policies; medians of ${RUNS} runs, each a fresh node process`],
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
