/**
 * Planning the build cache with the images (dist/plan/plan.js): 2,000 images (synthetic.mjs) and 2,000 BuildKit
 * build-cache records in chains of 5 (a quarter shared with an image, a few in use), planned with a policy that
 * has a buildCache section (unusedFor and keepBytes) and a disk budget over both; baseline: the same policy and
 * images without the buildCache section and without records, in the same process.
 * Target: at most 2x the baseline.
 *
 *   node bench/build-cache.bench.mjs [--images 2000] [--records 2000] [--runs 9]     (after npm run build)
 */
import { makePlan } from '../dist/plan/plan.js';
import { parsePolicy } from '../dist/policy/load.js';
import { emitResults, log, row, timeRuns } from './result.mjs';
import { NOW, syntheticInventory } from './synthetic.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const IMAGES = Number(opt('--images', 2_000));
const RECORDS = Number(opt('--records', 2_000));
const RUNS = Number(opt('--runs', 9));

const RULES = `rules:
  - name: old
    match: { repositories: ["**"] }
    olderThan: 14d
disk: { maxImageBytes: 40GB, targetImageBytes: 30GB }
limits: { maxDeletionsPercent: 100 }
`;
const policy = (text) => {
  const r = parsePolicy(text, 'bench.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
};
const withCache = policy(`version: 1\nbuildCache: { unusedFor: 72h, keepBytes: 20GiB }\n${RULES}`);
const without = policy(`version: 1\n${RULES}`);

/** Records in chains of five, each on the one before; ages spread over 30 days; sizes 1-100 MB. */
function records(n) {
  const out = [];
  let x = 12345;
  const rand = () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < n; i++) {
    const id = `r${String(i).padStart(24, '0')}`;
    const used = new Date(NOW - Math.floor(rand() * 30 * 86_400_000)).toISOString();
    out.push({
      id,
      parents: i % 5 === 0 ? [] : [`r${String(i - 1).padStart(24, '0')}`],
      type: ['regular', 'exec.cachemount', 'source.local'][i % 3],
      description: `step ${i}`,
      inUse: i % 97 === 0,
      shared: i % 4 === 0,
      size: Math.floor(rand() * 100_000_000) + 1_000_000,
      createdAt: new Date(NOW - 40 * 86_400_000).toISOString(),
      lastUsedAt: used,
      usageCount: 1 + (i % 7),
    });
  }
  return out;
}

const base = syntheticInventory(IMAGES, 7);
const cached = { ...base, buildCache: records(RECORDS) };
log(`build-cache bench: ${IMAGES} images, ${RECORDS} records, ${RUNS} runs each`);
const plain = timeRuns(RUNS, () => makePlan({ policy: without, inventory: base, now: NOW }));
const full = timeRuns(RUNS, () => makePlan({ policy: withCache, inventory: cached, now: NOW }));
const removed = full.result.buildCache.remove.length;
emitResults(
  'build-cache',
  [
    row(`plan ${IMAGES} images + ${RECORDS} cache records`, full.median, 'ms', {
      baseline: plain.median,
      baselineName: `plan ${IMAGES} images, no buildCache`,
      atMost: Math.round(2 * plain.median * 10) / 10,
    }),
  ],
  [`the plan removes ${removed} of ${RECORDS} records; target: at most 2x the plan without cache records`],
);
