/**
 * Runs every benchmark, each in its own child process (clean memory), and prints one table.
 *
 *   npm run bench                         build, then run all
 *   node bench/run.mjs --only plan        run some (comma-separated names: plan, validate, apply, ...)
 *   node bench/run.mjs --write            also record the figures in bench/results.json and rewrite
 *                                         bench/RESULTS.md from it (with --only, the other benchmarks'
 *                                         last figures are kept; text below RESULTS.md's marker is kept)
 *   node bench/run.mjs --render           only rewrite bench/RESULTS.md from bench/results.json
 *
 * Benchmarks: plan.mjs, validate.mjs, and every bench/*.bench.mjs (discovered: add a file, no edit here).
 * A benchmark prints one JSON line on stdout, {"bench", "rows", "notes", "engine"?} (see result.mjs);
 * progress goes to stderr. Exit status: 1 if a benchmark crashed; a MISS is reported, not a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_MD = `${DIR}RESULTS.md`;
const RESULTS_JSON = `${DIR}results.json`;
const MARKER = '<!-- Everything below this line is kept by `run.mjs --write`. -->';

const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : null;
const scripts = [
  'plan.mjs',
  'validate.mjs',
  ...readdirSync(DIR)
    .filter((f) => f.endsWith('.bench.mjs'))
    .sort(),
];
const nameOf = (script) => script.replace(/(\.bench)?\.mjs$/, '');
const render = argv.includes('--render');
const selected = render ? [] : scripts.filter((s) => !only || only.includes(nameOf(s)));
if (only && selected.length !== only.length) {
  console.error(`unknown benchmark in --only ${only.join(',')}; known: ${scripts.map(nameOf).join(', ')}`);
  process.exit(2);
}

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${type()} ${release()}, Node ${process.version}`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const command =
  process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench -- ${argv.join(' ')}`.trim()
    : `node bench/run.mjs ${argv.join(' ')}`.trim();
let source = 'unknown';
try {
  source = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: DIR, encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}

const results = [];
let crashed = false;
for (const script of selected) {
  const bench = nameOf(script);
  console.error(`== ${bench}`);
  const run = {
    at: new Date().toISOString().slice(0, 16).replace('T', ' '),
    command,
    source,
    machine,
    nice: getPriority(),
    load: load(),
  };
  const r = spawnSync(process.execPath, [`${DIR}${script}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
  });
  run.load += ` -> ${load()}`;
  const line = r.stdout
    ?.trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  let parsed = null;
  try {
    parsed = line ? JSON.parse(line) : null;
  } catch {
    // reported below
  }
  if (r.status !== 0 || !parsed?.rows) {
    crashed = true;
    parsed = {
      bench,
      rows: [{ name: `${bench}: crashed (status ${r.status}${r.signal ? `, ${r.signal}` : ''})`, pass: false }],
      notes: [],
    };
  }
  results.push({ ...parsed, bench, engine: parsed.engine ?? 'not reported', run });
}

const fmt = (v, unit) =>
  v === null || v === undefined
    ? ''
    : `${v.toLocaleString('en-US', { maximumFractionDigits: unit === 'x' ? 2 : 1 })}${unit === 'x' ? 'x' : ` ${unit}`}`;
const HEADER = ['benchmark', 'value', 'baseline', 'ratio', 'target', 'result'];
const cells = (r) => [
  r.name,
  fmt(r.value, r.unit),
  r.baseline === null || r.baseline === undefined ? '' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
  fmt(r.ratio, 'x'),
  r.target ?? '',
  r.pass === null || r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
];
const table = results.flatMap((b) => b.rows.map(cells));
const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const pad = (row) => row.map((c, i) => (i > 0 && i < 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
if (!render) {
  console.log([pad(HEADER), pad(widths.map((w) => '-'.repeat(w))), ...table.map(pad)].join('\n'));
  const notes = results.flatMap((b) => b.notes.map((n) => `${b.bench}: ${n}`));
  if (notes.length) console.log(`\n${notes.join('\n')}`);
  const misses = table.filter((t) => t[5] === 'MISS').length;
  console.log(
    `\n${misses === 0 ? 'all targets met' : `${misses} target(s) missed`}; ${machine}; load ${results.map((b) => `${b.bench} ${b.run.load}`).join(', ')}`,
  );
}

if (argv.includes('--write') || render) {
  // Each benchmark's latest figures, in discovery order; benchmarks whose script is gone are dropped.
  const stored = existsSync(RESULTS_JSON) ? JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) : {};
  for (const b of results) stored[b.bench] = b;
  const all = scripts
    .map(nameOf)
    .filter((n) => stored[n])
    .map((n) => stored[n]);
  writeFileSync(RESULTS_JSON, `${JSON.stringify(Object.fromEntries(all.map((b) => [b.bench, b])), null, 2)}\n`);
  const old = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
  const kept = old.includes(MARKER) ? old.split(MARKER)[1] : '\n';
  const md = [
    '# Benchmark results',
    '',
    "Written by `bench/run.mjs --write` from `bench/results.json` (each benchmark's latest run). Regenerate all with",
    '`npm run bench -- --write`, or one with `npm run build && node bench/run.mjs --only plan --write`.',
    '',
    `Machine: ${[...new Set(all.map((b) => b.run.machine))].join(' / ')}.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i > 0 && i < 4 ? '---:' : '---')).join('|')}|`,
    ...all.flatMap((b) => b.rows.map((r) => `| ${cells(r).join(' | ')} |`)),
    '',
    'Runs (load average 1/5/15 min before -> after; other jobs share this machine and wall times move with the load):',
    '',
    ...all.flatMap((b) => [
      `- **${b.bench}**: ${b.run.at} UTC, \`${b.run.command}\`, git \`${b.run.source}\`, engine version: ${b.engine}, load ${b.run.load}, nice ${b.run.nice}`,
      ...b.notes.map((n) => `  - ${n}`),
    ]),
    '',
    MARKER,
  ].join('\n');
  writeFileSync(RESULTS_MD, md + kept);
  console.log(`wrote ${RESULTS_JSON} and ${RESULTS_MD}`);
}
process.exitCode = crashed ? 1 : 0;
