/**
 * Planning at scale: for 1k, 10k and 100k synthetic images, the time to JSON.parse a snapshot (baseline),
 * to parseInventory it (schema validation) and to makePlan with policies/ci-runner.yaml, and the peak RSS
 * of one end-to-end pass (read, parseInventory, makePlan, JSON.stringify the plan) in a fresh process.
 *
 *   node bench/plan.mjs [--sizes 1000,10000] [--profile]      (after npm run build)
 *
 * --profile writes a V8 CPU profile of the timing child per size to bench/.work/profiles/;
 * summarize one with: node bench/cpuprofile-top.mjs FILE.cpuprofile
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseInventory, readInventoryFile, serializeInventory } from '../dist/inventory/snapshot.js';
import { makePlan } from '../dist/plan/plan.js';
import { parsePolicy } from '../dist/policy/load.js';
import { emitResults, log, MiB, peakRssMiB, row, timeRuns } from './result.mjs';
import { describe, NOW, syntheticInventory } from './synthetic.mjs';

const SELF = fileURLToPath(import.meta.url);
const POLICY = fileURLToPath(new URL('../policies/ci-runner.yaml', import.meta.url));
const PROFILES = fileURLToPath(new URL('./.work/profiles/', import.meta.url));
const SEED = 42;
const RUNS = { 1000: 15, 10000: 9, 100000: 5 };
const TARGET_MS = { 10000: 300, 100000: 3000 };
const label = (n) => (n >= 1000 ? `${n / 1000}k` : String(n));

function loadPolicy() {
  const r = parsePolicy(readFileSync(POLICY), 'policies/ci-runner.yaml');
  if (!r.ok) throw new Error(`ci-runner.yaml is invalid: ${JSON.stringify(r.problems)}`);
  return r.policy;
}

/** Child: timings for one snapshot file. */
function measure(file, runs) {
  const text = readFileSync(file, 'utf8');
  const json = timeRuns(runs, () => JSON.parse(text));
  const parsed = timeRuns(runs, () => parseInventory(text, file));
  const policy = loadPolicy();
  const plan = timeRuns(runs, () => makePlan({ policy, inventory: parsed.result, now: NOW }));
  const { summary, refused } = plan.result;
  return {
    json: json.median,
    parse: parsed.median,
    parseFirst: parsed.first,
    plan: plan.median,
    planFirst: plan.first,
    planMin: Math.min(...plan.times),
    summary,
    refused: refused?.reason ?? null,
  };
}

/** Child: one end-to-end pass, as `imgsweep plan --inventory FILE -o plan.json` would do it; peak RSS. */
async function peak(file, jsonOnly) {
  if (jsonOnly) return { data: JSON.parse(readFileSync(file, 'utf8')).images.length, peakMiB: peakRssMiB() };
  const plan = makePlan({ policy: loadPolicy(), inventory: await readInventoryFile(file), now: NOW });
  return { data: JSON.stringify(plan).length, peakMiB: peakRssMiB() };
}

function child(args, nodeFlags = []) {
  const r = spawnSync(process.execPath, [...nodeFlags, SELF, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * MiB,
  });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed with status ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

function main(sizes, profile) {
  const dir = mkdtempSync(join(tmpdir(), 'imgsweep-bench-'));
  const rows = [];
  const notes = [];
  const planMs = {};
  try {
    for (const n of sizes) {
      const inv = syntheticInventory(n, SEED);
      const shape = describe(inv);
      const file = join(dir, `inventory-${n}.json`);
      writeFileSync(file, serializeInventory(inv));
      const mb = readFileSync(file).length / MiB;
      log(`plan: ${label(n)}: ${JSON.stringify(shape)}, ${mb.toFixed(1)} MiB`);
      const runs = RUNS[n] ?? 3;
      if (profile) mkdirSync(PROFILES, { recursive: true });
      const prof = profile
        ? ['--cpu-prof', '--cpu-prof-dir', PROFILES, '--cpu-prof-name', `plan-${label(n)}.cpuprofile`]
        : [];
      const m = child(['--measure', file, '--runs', String(runs)], ['--expose-gc', ...prof]);
      const base = child(['--peak', file, '--json-only']);
      const full = child(['--peak', file]);
      planMs[n] = m.plan;
      const L = label(n);
      rows.push(row(`JSON.parse ${L} (${mb.toFixed(0)} MiB)`, m.json, 'ms'));
      rows.push(row(`parseInventory ${L}`, m.parse, 'ms', { baseline: m.json, baselineName: 'JSON.parse' }));
      rows.push(
        row(`makePlan ${L}`, m.plan, 'ms', { baseline: m.json, baselineName: 'JSON.parse', max: TARGET_MS[n] ?? null }),
      );
      rows.push(row(`makePlan ${L}, first run`, m.planFirst, 'ms', { baseline: m.json, baselineName: 'JSON.parse' }));
      rows.push(
        row(`peak RSS ${L} (readInventoryFile+makePlan)`, full.peakMiB, 'MiB', {
          baseline: base.peakMiB,
          baselineName: 'read+JSON.parse',
          max: n === 100000 ? 1024 : null,
        }),
      );
      const s = m.summary;
      notes.push(
        `${L}: ${runs} runs (median; fastest makePlan ${m.planMin.toFixed(0)} ms); plan: ${s.deletes} deletes, ${s.untags} untags, ${s.removeContainers} container removals, ${s.kept} kept${m.refused ? ` (refused: ${m.refused})` : ''}`,
      );
    }
    if (planMs[10000] && planMs[100000]) {
      rows.push(row('makePlan 100k/10k', planMs[100000] / planMs[10000], 'x', { max: 12 }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  emitResults('plan', rows, notes, { engine: 'n/a (no engine)' });
}

const argv = process.argv.slice(2);
const opt = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
if (opt('--measure'))
  process.stdout.write(`${JSON.stringify(measure(opt('--measure'), Number(opt('--runs') ?? 3)))}\n`);
else if (opt('--peak'))
  process.stdout.write(`${JSON.stringify(await peak(opt('--peak'), argv.includes('--json-only')))}\n`);
else main((opt('--sizes') ?? '1000,10000,100000').split(',').map(Number), argv.includes('--profile'));
