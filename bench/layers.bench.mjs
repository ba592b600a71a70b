/**
 * Layer data for the reclaim estimate: attachLayers (dist/live/layers.js) through connectEngine
 * (dist/engine/docker.js) for 1,000 images on a real dockerd whose images share base layers,
 * at the default bounded concurrency (8) vs 1 (and 4, 16 for the shape), in the same run: wall time
 * (median of RUNS, order alternated) and engine calls (counted by a unix-socket proxy in a separate pass,
 * and as attachLayers reports them).
 * Every base layer has one size, and every top layer another: /system/df's figures cannot tell the stacks apart
 * (src/live/share.ts), so every image is read, the case this benchmark measures.
 *
 *   node bench/layers.bench.mjs [--images 1000] [--runs 3]     (after npm run build)
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { connectEngine } from '../dist/engine/docker.js';
import { attachLayers } from '../dist/live/layers.js';
import { readInventory } from '../dist/live/read.js';
import { countingProxy, layer, saveArchive, startDockerd } from './engine.mjs';
import { emitResults, log, median, row } from './result.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const N = Number(opt('--images', 1000));
const RUNS = Number(opt('--runs', 3));
const BASES = 5;
const TOPS = 40;
const LEVELS = [8, 1, 4, 16];

function fixtures() {
  const bases = Array.from({ length: BASES }, (_, i) => layer(`layers-base-${i}`, 16384));
  const tops = Array.from({ length: TOPS }, (_, i) => layer(`layers-top-${i}`, 4096));
  return Array.from({ length: N }, (_, i) => ({
    tags: [`bench/app-${i % 40}:v${i}`],
    created: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    labels: { 'bench.index': String(i) },
    layers: [bases[i % BASES], tops[i % TOPS]],
  }));
}

const fresh = (inv) => ({ ...inv, images: inv.images.map((i) => ({ ...i })) });
const signature = (inv) => JSON.stringify(inv.images.map((i) => [i.id, i.layers]));

async function main() {
  const engine = await startDockerd();
  const rows = [];
  const notes = [];
  let proxy = null;
  const open = [];
  try {
    log(`layers: dockerd ${engine.version} (API ${engine.apiVersion}) in ${engine.dir}`);
    const t0 = Date.now();
    await engine.load(saveArchive(fixtures()).archive);
    log(`layers: ${N} images loaded in ${Date.now() - t0} ms`);
    const direct = await connectEngine({ host: engine.host, env: process.env });
    open.push(direct);
    const base = await readInventory(direct, Date.now());
    if (base.images.length !== N) throw new Error(`expected ${N} images, read ${base.images.length}`);

    // Warm-up (first calls open connections, the daemon fills caches), then timed runs, order alternated.
    await attachLayers(direct, fresh(base), 8);
    const times = Object.fromEntries(LEVELS.map((c) => [c, []]));
    const reported = {};
    const sigs = new Set();
    for (let r = 0; r < RUNS; r++) {
      for (const c of r % 2 ? [...LEVELS].reverse() : LEVELS) {
        const inv = fresh(base);
        const s = performance.now();
        const res = await attachLayers(direct, inv, c);
        times[c].push(performance.now() - s);
        if (inv.accountingUnavailable) throw new Error(`attachLayers: ${inv.accountingUnavailable}`);
        reported[c] = res;
        sigs.add(signature(inv));
      }
    }
    if (sigs.size !== 1) throw new Error('attachLayers gave different layers at different concurrency');

    // Calls, through a counting proxy (its own pass: the proxy adds latency).
    proxy = await countingProxy(engine.socket, join(engine.dir, 'proxy.sock'));
    const counted = {};
    for (const c of [8, 1]) {
      const viaProxy = await connectEngine({ host: proxy.host, env: process.env });
      open.push(viaProxy);
      const inv = await readInventory(viaProxy, Date.now());
      proxy.reset();
      await attachLayers(viaProxy, inv, c);
      counted[c] = { total: proxy.total(), keys: proxy.snapshot() };
    }

    const m = Object.fromEntries(LEVELS.map((c) => [c, median(times[c])]));
    const layered = fresh(base);
    await attachLayers(direct, layered, 8);
    const distinct = new Set(layered.images.flatMap((i) => i.layers.map((l) => l.digest))).size;
    rows.push(
      row(`attachLayers ${N} images, concurrency 8 (default)`, m[8], 'ms', {
        baseline: m[1],
        baselineName: 'concurrency 1',
      }),
    );
    rows.push(row(`attachLayers ${N} images, concurrency 1`, m[1], 'ms'));
    rows.push(row(`attachLayers ${N}: engine calls, concurrency 8`, counted[8].total, 'calls'));
    rows.push(row(`attachLayers ${N}: engine calls, concurrency 1`, counted[1].total, 'calls'));
    rows.push(row(`attachLayers ${N}: per image, concurrency 8`, m[8] / N, 'ms'));
    const f = (v) => v.map((x) => x.toFixed(0)).join('/');
    notes.push(
      `dockerd ${engine.version} (API ${engine.apiVersion}), vfs; ${N} images, each one of ${BASES} base layers + one of ${TOPS} top layers (${distinct} distinct layers, one size for all bases and another for all tops: /system/df cannot tell the stacks apart, so all ${N} are read)`,
    );
    notes.push(
      `${RUNS} runs each after one warm-up, median; samples ms: ${LEVELS.map((c) => `c${c} ${f(times[c])}`).join(', ')}; medians: ${LEVELS.map((c) => `c${c} ${m[c].toFixed(0)} ms`).join(', ')}`,
    );
    notes.push(
      `calls (proxy): ${Object.entries(counted[8].keys)
        .map(([k, n]) => `${n}x ${k}`)
        .join(', ')}; attachLayers reports ${reported[8].calls} calls, ${reported[8].fetched} images fetched`,
    );
  } finally {
    for (const e of open) e.close();
    await proxy?.close();
    await engine.stop();
  }
  emitResults('layers', rows, notes, { engine: `dockerd ${engine.version} (API ${engine.apiVersion})` });
}

await main();
