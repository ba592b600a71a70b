/**
 * The supported size: `imgsweep plan --inventory` of a 1,000,000-image snapshot, end to end through the real
 * command line (bin/imgsweep.js) in a fresh process, once with the text output and once with --format json;
 * targets: at most 60 s and 4096 MiB peak RSS each. Baseline: a fresh `node -e` that only reads and
 * JSON.parses the same file.
 *
 *   node bench/scale.bench.mjs [--images 1000000]     (after npm run build)
 *
 * The snapshot is synthetic (synthetic.mjs, seed 42) and lean, as one of this size has to be to fit in one
 * string (imgsweep reads snapshots of at most 512 MiB): no layer lists (the plan's reclaim estimate is then
 * unavailable and the disk budget is skipped: exit 1, accepted here with its message), no decorative labels,
 * usage entries without their `source`, and n/20 containers. It is written as compact JSON, streamed, under
 * bench/.work/ (git-ignored) in the order imgsweep saves snapshots (by ID), and reused while synthetic.mjs, this
 * writer and the shape are unchanged.
 * Peak RSS comes from getrusage in the child itself (bench/max-rss.mjs, preloaded with --import).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { emitResults, log, MiB, row } from './result.mjs';
import { syntheticInventory } from './synthetic.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORK = fileURLToPath(new URL('./.work/', import.meta.url));
const MAX_RSS = pathToFileURL(fileURLToPath(new URL('./max-rss.mjs', import.meta.url))).href;
const SEED = 42;
/** Bump when the writer below changes what it writes. */
const WRITER_VERSION = 2;
const TARGET_S = 60;
const TARGET_MIB = 4096;
/** imgsweep's MAX_INVENTORY_BYTES (src/inventory/snapshot.ts): about V8's longest string. */
const MAX_SNAPSHOT_BYTES = 512 * MiB;
const NOW = '2026-11-27T12:00:00Z';

const argv = process.argv.slice(2);
const opt = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const N = Number(opt('--images') ?? 1_000_000);
const SHAPE = { layers: false, sourceLabels: false, usageSource: false, containers: Math.round(N / 20) };
const L = N >= 1e6 ? `${N / 1e6}M` : `${N / 1000}k`;

/**
 * In the order `imgsweep inventory -o` saves a snapshot (serializeInventory): images, containers and usage
 * entries by ID, references sorted. The planner walks images by ID; in file order they are also in memory order.
 */
function canonicalOrder(inv) {
  const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const byId = (a, b) => compare(a.id, b.id);
  inv.images.sort(byId);
  for (const img of inv.images) {
    img.repoTags.sort(compare);
    img.repoDigests.sort(compare);
  }
  inv.containers.sort(byId);
  inv.usage = Object.fromEntries(
    Object.keys(inv.usage)
      .sort(compare)
      .map((id) => [id, inv.usage[id]]),
  );
  return inv;
}

/** Compact JSON, as JSON.stringify(inv) would give it, written in pieces: the whole would not fit in one string. */
function writeCompact(file, inv) {
  const fd = openSync(file, 'w');
  let pieces = [];
  const flush = () => {
    writeSync(fd, pieces.join(''));
    pieces = [];
  };
  const put = (text) => {
    pieces.push(text);
    if (pieces.length >= 10_000) flush();
  };
  put('{');
  Object.entries(inv).forEach(([key, value], i) => {
    put(`${i ? ',' : ''}${JSON.stringify(key)}:`);
    if (Array.isArray(value)) {
      put('[');
      value.forEach((item, j) => put(`${j ? ',' : ''}${JSON.stringify(item)}`));
      put(']');
    } else if (key === 'usage') {
      put('{');
      Object.keys(value).forEach((id, j) => put(`${j ? ',' : ''}${JSON.stringify(id)}:${JSON.stringify(value[id])}`));
      put('}');
    } else put(JSON.stringify(value));
  });
  put('}\n');
  flush();
  closeSync(fd);
}

/** The cached snapshot, made in a child process (generating takes ~1 min and ~3 GB) when missing or stale. */
function snapshot() {
  const key = createHash('sha256')
    .update(readFileSync(new URL('./synthetic.mjs', import.meta.url)))
    .update(JSON.stringify({ N, SEED, SHAPE, WRITER_VERSION }))
    .digest('hex')
    .slice(0, 12);
  const file = join(WORK, `scale-inventory-${L}-${key}.json`);
  if (existsSync(file)) {
    log(`scale: reusing ${file}`);
    return file;
  }
  mkdirSync(WORK, { recursive: true });
  for (const old of readdirSync(WORK).filter((f) => f.startsWith('scale-inventory-'))) rmSync(join(WORK, old));
  log(`scale: generating ${L} images into ${file} ...`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [SELF, '--generate', `${file}.tmp`, '--images', String(N)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`generating the snapshot failed (status ${r.status}, ${r.signal})`);
  renameSync(`${file}.tmp`, file);
  log(`scale: generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return file;
}

/** One fresh process, stdout to `out`; wall time, peak RSS (bench/max-rss.mjs), exit status, stderr. */
function measure(name, args, out) {
  const rssFile = join(WORK, `scale-${name}.maxrss`);
  rmSync(rssFile, { force: true });
  const fd = openSync(out, 'w');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', MAX_RSS, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', fd, 'pipe'],
    env: { ...process.env, IMGSWEEP_BENCH_MAX_RSS: rssFile },
    maxBuffer: 64 * MiB,
  });
  const s = (performance.now() - t0) / 1000;
  closeSync(fd);
  const peakMiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) / 1024 : null;
  rmSync(rssFile, { force: true });
  log(
    `scale: ${name}: ${s.toFixed(1)} s, peak RSS ${peakMiB?.toFixed(0)} MiB, exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`,
  );
  if (r.stderr.trim()) log(r.stderr.trim().replace(/^/gm, `  ${name} stderr: `));
  return { s, peakMiB, status: r.status, signal: r.signal, stderr: r.stderr, bytes: statSync(out).size };
}

/**
 * plan exits 0 when evaluated, or 1 when the disk budget was skipped for want of disk accounting (as here:
 * the snapshot has no layers). 1 is also an internal error's code: that, a signal or any other code fails.
 */
function checkPlanExit(name, m) {
  const skipped = m.status === 1 && /disk budget skipped/.test(m.stderr) && !/internal error/.test(m.stderr);
  if (m.status === 0 || skipped) return;
  throw new Error(`${name}: exit ${m.status}${m.signal ? ` (${m.signal})` : ''}: ${m.stderr.slice(-2000)}`);
}

/** The last `bytes` of a file, as text. */
function tail(file, bytes = 64 * 1024) {
  const size = statSync(file).size;
  const buf = Buffer.alloc(Math.min(bytes, size));
  const fd = openSync(file, 'r');
  readSync(fd, buf, 0, buf.length, size - buf.length);
  closeSync(fd);
  return buf.toString('utf8');
}

/** The plan's summary: from the last line of the text output, and from the end of the JSON plan. */
function textSummary(file) {
  return tail(file).trimEnd().split('\n').at(-1);
}
function jsonSummary(file) {
  const text = tail(file);
  const at = text.lastIndexOf('"summary": {');
  if (at === -1) throw new Error(`${file}: no summary at its end`);
  return JSON.parse(text.slice(at + '"summary": '.length, text.indexOf('}', at) + 1));
}

function main() {
  const inventory = snapshot();
  const bytes = statSync(inventory).size;
  if (bytes > MAX_SNAPSHOT_BYTES)
    throw new Error(`${inventory} is ${bytes} bytes, over the 512 MiB imgsweep reads: make the shape leaner`);
  const plan = ['bin/imgsweep.js', 'plan', '-p', 'policies/ci-runner.yaml', '--inventory', inventory, '--now', NOW];
  const parse = measure(
    'json-parse',
    ['-e', "JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8'))", inventory],
    '/dev/null',
  );
  if (parse.status !== 0) throw new Error(`JSON.parse baseline: exit ${parse.status}: ${parse.stderr.slice(-2000)}`);
  const textOut = join(WORK, 'scale-plan.txt');
  const jsonOut = join(WORK, 'scale-plan.json');
  const text = measure('plan-text', plan, textOut);
  checkPlanExit('plan (text)', text);
  const json = measure('plan-json', [...plan, '--format', 'json'], jsonOut);
  checkPlanExit('plan --format json', json);

  const s = jsonSummary(jsonOut);
  const line = textSummary(textOut);
  const counts = [s.deletes, s.untags, s.kept, ...(s.removeContainers ? [s.removeContainers] : [])];
  const counted = counts.every((n) => line.includes(` ${n} `));
  if (!line.startsWith('Plan:') || !counted) throw new Error(`the text summary "${line}" disagrees with the JSON's`);
  rmSync(jsonOut); // a few hundred MiB; the text output stays for a look
  const base = (m) => ({ baseline: parse[m], baselineName: 'node -e JSON.parse' });
  const rows = [
    row(`snapshot ${L} images (compact JSON, no layers)`, bytes / MiB, 'MiB'),
    row(`node -e JSON.parse ${L} snapshot: wall`, parse.s, 's'),
    row(`node -e JSON.parse ${L} snapshot: peak RSS`, parse.peakMiB, 'MiB'),
  ];
  for (const [name, m] of [
    ['text', text],
    ['--format json', json],
  ]) {
    rows.push(row(`plan --inventory ${L}, ${name}: wall`, m.s, 's', { ...base('s'), atMost: TARGET_S }));
    rows.push(
      row(`plan --inventory ${L}, ${name}: peak RSS`, m.peakMiB, 'MiB', { ...base('peakMiB'), atMost: TARGET_MIB }),
    );
    rows.push(row(`plan --inventory ${L}, ${name}: output`, m.bytes / MiB, 'MiB'));
  }
  rows.push(row(`plan ${L}: deletes`, s.deletes, 'images'));
  rows.push(row(`plan ${L}: untags`, s.untags, 'refs'));
  rows.push(row(`plan ${L}: container removals`, s.removeContainers, 'containers'));
  rows.push(row(`plan ${L}: kept`, s.kept, 'images'));
  const notes = [
    `snapshot: ${N.toLocaleString('en-US')} images, ${SHAPE.containers.toLocaleString('en-US')} containers (n/20, not n/2: the file must stay under 512 MiB), synthetic seed ${SEED}, no layer lists, no source/revision labels, usage entries without source; compact JSON in ID order (as imgsweep saves snapshots), ${(bytes / N).toFixed(0)} bytes per image`,
    `command: node bin/imgsweep.js plan -p policies/ci-runner.yaml --inventory SNAPSHOT --now ${NOW} [--format json], stdout to a file; wall time of the whole process, peak RSS from getrusage in it (bench/max-rss.mjs); one run each`,
    `exit ${text.status} (text) and ${json.status} (json): ${text.status === 1 ? "1 is plan's documented code for a disk budget skipped (no layers, so no disk accounting)" : 'evaluated'}`,
    `plan: ${line}${s.bytes === null ? ' (reclaim estimate unavailable: no layers)' : ''}`,
  ];
  emitResults('scale', rows, notes, { engine: 'n/a (no engine)' });
}

if (opt('--generate')) writeCompact(opt('--generate'), canonicalOrder(syntheticInventory(N, SEED, SHAPE)));
else main();
