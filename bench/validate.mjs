/**
 * Policy validation at scale: parsePolicy on a generated 1,000-rule policy (globs, excludes, keep, durations,
 * labels, image IDs), cold (first call in a fresh process: loads the validator compiled at build time) and warm,
 * against the yaml package's parse of the same text (cold and warm) as the baseline.
 *
 *   node bench/validate.mjs        (after npm run build)
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parsePolicy } from '../dist/policy/load.js';
import { emitResults, log, median, row, timeRuns } from './result.mjs';

const SELF = fileURLToPath(import.meta.url);
const RULES = 1000;
const COLD_RUNS = 5;
const WARM_RUNS = 20;
const TARGET_MS = 1000;

/** A valid policy with `n` varied rules; deterministic. */
export function bigPolicy(n) {
  const q = (list) => `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
  const lines = [
    'version: 1',
    `name: bench-${n}-rules`,
    'protect:',
    `  repositories: ${q(['registry.acme.io/base/**', 'ghcr.io/acme/infra-*'])}`,
    `  tags: ${q(['latest', 'stable', 'v*.*.*'])}`,
    `  references: ${q(['nginx:1.*', 'registry.acme.io/**:release-*'])}`,
    `  labels: ${q(['com.acme.keep', 'tier=prod'])}`,
    `  images: ${q(['sha256:3e207b409db3', '0123456789abcdef0123'])}`,
    '  youngerThan: 1h',
    'containers:',
    '  stopped: remove',
    '  stoppedFor: 1d12h',
    'rules:',
  ];
  for (let i = 0; i < n; i++) {
    const team = `team-${i % 37}`;
    lines.push(
      `  - name: rule-${String(i).padStart(4, '0')}`,
      `    description: generated rule ${i} for ${team}`,
      '    match:',
    );
    switch (i % 5) {
      case 0:
        lines.push(
          `      repositories: ${q([`registry.acme.io/${team}/**`, `ghcr.io/acme/app-${i}-*`])}`,
          `      tags: ${q(['pr-*', 'sha-*', `feature-{a,b,c}-${i}*`])}`,
        );
        lines.push(`      exclude: { tags: ${q(['*-pinned'])}, labels: ${q([`owner=${team}`])} }`);
        break;
      case 1:
        lines.push(
          `      references: ${q([`registry.acme.io/${team}/svc-${i}:rc-*`, `127.0.0.1:5000/${team}/**:build-[0-9]*`])}`,
        );
        break;
      case 2:
        lines.push('      untagged: true', `      labels: ${q([`com.acme.team=${team}`, 'com.acme.ephemeral'])}`);
        break;
      case 3:
        lines.push('      unused: true', `      repositories: ${q([`docker.io/${team}/*`, `localhost/${team}-?`])}`);
        lines.push(`      exclude: { repositories: ${q([`docker.io/${team}/keep-*`])} }`);
        break;
      default:
        lines.push(
          `      images: ${q([(i * 2654435761).toString(16).padStart(12, '0').slice(-12)])}`,
          '      unused: true',
        );
    }
    if (i % 2 === 0) lines.push(`    olderThan: ${(i % 30) + 1}d`);
    if (i % 3 === 0) lines.push(`    unusedFor: ${(i % 48) + 1}h${i % 60}m`);
    if (i % 4 === 0)
      lines.push(`    keep: { newest: ${(i % 5) + 1}, per: repository, by: ${i % 8 === 0 ? 'lastUsed' : 'created'} }`);
    if (i % 7 === 0) lines.push('    action: untag');
  }
  lines.push(
    'disk:',
    '  maxUsage: 85%',
    '  targetUsage: 70%',
    '  maxImageBytes: 40GiB',
    '  targetImageBytes: 30GiB',
    '  order: lru',
  );
  lines.push('limits:', '  maxDeletions: 500', '  maxDeletionsPercent: 60', '');
  return lines.join('\n');
}

function check(result) {
  if (!result.ok)
    throw new Error(
      `generated policy is invalid:\n${result.problems
        .slice(0, 5)
        .map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`)
        .join('\n')}`,
    );
  if (result.policy.rules.length !== RULES)
    throw new Error(`expected ${RULES} rules, got ${result.policy.rules.length}`);
}

/** Child: the first call of one function in this process, in ms. */
function cold(what) {
  const text = bigPolicy(RULES);
  const t0 = performance.now();
  if (what === 'yaml') parseYaml(text);
  else check(parsePolicy(text, 'bench.yaml'));
  return performance.now() - t0;
}

function coldMedian(what) {
  const times = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const r = spawnSync(process.execPath, [SELF, '--cold', what], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`cold ${what} child failed with status ${r.status}`);
    times.push(Number(r.stdout.trim()));
  }
  return median(times);
}

function main() {
  const text = bigPolicy(RULES);
  log(`validate: ${RULES} rules, ${(text.length / 1024).toFixed(0)} KiB of YAML`);
  const coldPolicy = coldMedian('policy');
  const coldYaml = coldMedian('yaml');
  check(parsePolicy(text, 'bench.yaml'));
  parseYaml(text);
  const warmPolicy = timeRuns(WARM_RUNS, () => parsePolicy(text, 'bench.yaml'));
  const warmYaml = timeRuns(WARM_RUNS, () => parseYaml(text));
  const rows = [
    row(`parsePolicy ${RULES} rules, cold`, coldPolicy, 'ms', {
      baseline: coldYaml,
      baselineName: 'yaml parse, cold',
      max: TARGET_MS,
    }),
    row(`parsePolicy ${RULES} rules, warm`, warmPolicy.median, 'ms', {
      baseline: warmYaml.median,
      baselineName: 'yaml parse',
      max: TARGET_MS,
    }),
  ];
  emitResults(
    'validate',
    rows,
    [
      `${RULES} rules, ${(text.length / 1024).toFixed(0)} KiB; cold: median of ${COLD_RUNS} fresh processes (first call: loads the precompiled policy validator); warm: median of ${WARM_RUNS}`,
    ],
    { engine: 'n/a (no engine)' },
  );
}

const argv = process.argv.slice(2);
if (argv[0] === '--cold') process.stdout.write(`${cold(argv[1])}\n`);
else main();
