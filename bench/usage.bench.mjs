/**
 * The last-used record at 100,000 images (dist/usage/store.js, dist/usage/fold.js):
 *   saveUsage (sorted keys, atomic write with fsync) then loadUsage (read, parse, validate every entry);
 *   target: save + load < 1 s; baseline: JSON.stringify + JSON.parse of the same record in memory.
 *   foldUsage over a 100k-image inventory (synthetic.mjs, n/2 containers), steady state (every image has an
 *   entry) and first run (none), without and with 1,000 container events; baseline: a minimal fold (one
 *   lookup and copy per image).
 *
 *   node bench/usage.bench.mjs [--images 100000] [--runs 5]     (after npm run build)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { foldUsage } from '../dist/usage/fold.js';
import { loadUsage, saveUsage, usagePath } from '../dist/usage/store.js';
import { emitResults, log, median, MiB, peakRssMiB, row, timeRuns } from './result.mjs';
import { NOW, syntheticInventory } from './synthetic.mjs';

const SELF = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const N = Number(opt('--images', 100_000));
const RUNS = Number(opt('--runs', 5));
const TARGET_MS = 1000;
const EVENTS = 1000;
const PREFIX_EVENTS = 50;

async function timeAsync(runs, fn) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    result = await fn();
    times.push(performance.now() - t0);
  }
  return { times, median: median(times), result };
}

/**
 * Container events as a daemon reports them. 'names': by the reference the container was run from (19 in 20)
 * or by a container the inventory lists; 'prefixes': `docker run 3e207b409db3`, the image named by an ID prefix.
 */
function events(inv, count, kind) {
  const list = [];
  const tagged = inv.images.filter((i) => i.repoTags.length > 0);
  for (let k = 0; k < count; k++) {
    const time = new Date(NOW - 3_000_000 + k * 1000).toISOString();
    const action = ['start', 'die', 'create', 'exec_start: sh'][k % 4];
    if (kind === 'prefixes') {
      const img = inv.images[(k * 7919) % inv.images.length];
      list.push({ time, action, containerId: `c${k}`.padEnd(64, '0'), imageId: null, image: img.id.slice(7, 19) });
    } else if (k % 20 === 0) {
      const c = inv.containers[(k * 31) % inv.containers.length];
      list.push({ time, action, containerId: c.id, imageId: null, image: c.image });
    } else {
      const img = tagged[(k * 104729) % tagged.length];
      list.push({ time, action, containerId: `e${k}`.padEnd(64, '0'), imageId: null, image: img.repoTags[0] });
    }
  }
  return list;
}

async function main() {
  const inv = syntheticInventory(N, 7);
  const key = inv.engine.key;
  const dir = mkdtempSync(join(tmpdir(), 'imgsweep-usage-'));
  const rows = [];
  const notes = [];
  try {
    // The record a steady-state run saves: every current image has an entry.
    const images = foldUsage(inv.usage, inv, [], NOW);
    const record = {
      kind: 'imgsweep-usage',
      version: 1,
      engine: key,
      updatedAt: new Date(NOW).toISOString(),
      eventsUntil: new Date(NOW).toISOString(),
      images,
    };
    const entries = Object.keys(images).length;
    log(`usage: ${N} images, ${inv.containers.length} containers, ${entries} usage entries`);

    const warnings = [];
    const warn = (m) => warnings.push(m);
    const save = await timeAsync(RUNS, () => saveUsage(dir, record));
    const bytes = statSync(usagePath(dir, key)).size;
    const load = await timeAsync(RUNS, () => loadUsage(dir, key, warn, NOW));
    if (warnings.length || Object.keys(load.result.images).length !== entries)
      throw new Error(`loadUsage did not load the saved record: ${warnings.join('; ')}`);
    const both = await timeAsync(RUNS, async () => {
      await saveUsage(dir, record);
      return loadUsage(dir, key, warn, NOW);
    });
    let text = '';
    const stringify = timeRuns(RUNS, () => (text = JSON.stringify(record)));
    const parse = timeRuns(RUNS, () => JSON.parse(text));
    const baseline = stringify.median + parse.median;
    const L = `${N / 1000}k`;
    rows.push(
      row(`usage record ${L}: saveUsage + loadUsage`, both.median, 'ms', {
        baseline,
        baselineName: 'JSON.stringify+parse',
        max: TARGET_MS,
      }),
    );
    rows.push(
      row(`usage record ${L}: saveUsage`, save.median, 'ms', {
        baseline: stringify.median,
        baselineName: 'JSON.stringify',
      }),
    );
    rows.push(
      row(`usage record ${L}: loadUsage`, load.median, 'ms', { baseline: parse.median, baselineName: 'JSON.parse' }),
    );

    // foldUsage: steady state and first run, without and with events.
    const evs = events(inv, EVENTS, 'names');
    const pevs = events(inv, PREFIX_EVENTS, 'prefixes');
    const floor = timeRuns(RUNS, () => {
      const next = {};
      for (const img of inv.images) {
        const old = images[img.id];
        next[img.id] = old ? { ...old } : { firstSeen: 'x', lastUsed: 'x', source: 'first seen' };
      }
      return next;
    });
    const steady = timeRuns(RUNS, () => foldUsage(images, inv, [], NOW));
    const steadyEv = timeRuns(RUNS, () => foldUsage(images, inv, evs, NOW));
    const steadyPrefix = timeRuns(RUNS, () => foldUsage(images, inv, pevs, NOW));
    const firstRun = timeRuns(RUNS, () => foldUsage({}, inv, [], NOW));
    const fb = { baseline: floor.median, baselineName: 'minimal fold loop' };
    rows.push(row(`foldUsage ${L} images, ${inv.containers.length / 1000}k containers`, steady.median, 'ms', fb));
    rows.push(row(`foldUsage ${L}, with ${EVENTS} events (by name or container)`, steadyEv.median, 'ms', fb));
    rows.push(row(`foldUsage ${L}, with ${PREFIX_EVENTS} events naming an ID prefix`, steadyPrefix.median, 'ms', fb));
    rows.push(row(`foldUsage ${L}, first run (no record)`, firstRun.median, 'ms', fb));
    rows.push(row(`peak RSS (${L} inventory, record, folds)`, peakRssMiB(), 'MiB'));
    const f = (t) => t.times.map((x) => x.toFixed(0)).join('/');
    notes.push(
      `${L}: record ${(bytes / MiB).toFixed(1)} MiB, ${entries} entries; ${RUNS} runs each, median; samples ms: save ${f(save)}, load ${f(load)}, save+load ${f(both)}, stringify ${f(stringify)}, parse ${f(parse)}`,
    );
    notes.push(
      `foldUsage samples ms: steady ${f(steady)}, ${EVENTS} events by name/container ${f(steadyEv)}, ${PREFIX_EVENTS} ID-prefix events ${f(steadyPrefix)}, first run ${f(firstRun)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  emitResults('usage', rows, notes, { engine: 'n/a (no engine)' });
}

// Timings want a collectable heap between runs: re-run this file with --expose-gc when it is not exposed.
if (typeof globalThis.gc !== 'function' && !argv.includes('--child')) {
  const r = spawnSync(process.execPath, ['--expose-gc', SELF, ...argv, '--child'], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} else await main();
