/**
 * Engine API calls made by `imgsweep plan` (and `inventory`) for N = 100, 1000, 2000 loaded images and a few
 * containers, counted by a unix-socket proxy between imgsweep and the daemon (method + path template), with
 *   (a) a policy that deletes nothing, and (b) one that deletes ~10% of the images.
 * Calls must not grow with N except for the reclaim-estimate layer reads (GET /images/{ref}/json + /history),
 * and those only with the number of shared stacks (src/live/share.ts): here 40 at any N. Layer sizes
 * differ, as real layers' do; with one size for all, /system/df cannot tell the stacks apart and every image
 * is read (bench/layers.bench.mjs measures that case). Plan (a) reads no layers (nothing to estimate).
 * Then, on the 2,000-image engine, direct (no proxy) wall times of `imgsweep inventory --format json` and
 * `imgsweep plan` vs `docker images -a --format json` and GET /images/json?all=1 timed in-process, each run
 * running them back to back. Targets: plan (a) and plan (b) each at most 2x `docker images -a --format json`
 * (median of the per-run ratios).
 *
 *   node bench/inventory.bench.mjs [--sizes 100,1000,2000] [--runs 7]     (after npm run build)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { busyboxLayer, check, countingProxy, imgsweep, layer, saveArchive, startDockerd } from './engine.mjs';
import { emitResults, log, median, row } from './result.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const SIZES = opt('--sizes', '100,1000,2000').split(',').map(Number);
const RUNS = Number(opt('--runs', 7));
const TARGET_PLAN = 2;
const BASES = 5;
const TOPS = 40;
const LAYER_READS = new Set(['GET /images/{ref}/json', 'GET /images/{ref}/history']);

const POLICIES = {
  none: `version: 1
name: bench-deletes-nothing
rules:
  - name: nothing
    match: { repositories: ["nothing-here/**"] }
`,
  tenth: `version: 1
name: bench-deletes-a-tenth
rules:
  - name: old
    match: { repositories: ["bench/old-*"] }
`,
};

/** Images [from, to): every 10th in bench/old-* (what policy (b) deletes), a quarter with a second tag. */
function images(from, to, bases, tops) {
  const list = [];
  for (let i = from; i < to; i++) {
    const repo = i % 10 === 0 ? `bench/old-${i % 7}` : `bench/keep-${i % 50}`;
    const tags = [`${repo}:v${i}`];
    if (i % 4 === 1) tags.push(`${repo}:alias-${i}`);
    list.push({
      tags,
      created: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
      labels: { 'bench.index': String(i) },
      layers: [bases[i % BASES], tops[i % TOPS]],
    });
  }
  return list;
}

/** A few containers: 3 created (never started) on fixture images; with busybox, one running and one exited. */
async function containers(engine, hasBusybox) {
  const made = [];
  const create = async (body, name) => {
    const r = await engine.api('POST', `/containers/create?name=${name}`, {
      body: Buffer.from(JSON.stringify(body)),
      headers: { 'Content-Type': 'application/json' },
    });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body}`);
    made.push(name);
    return r.json().Id;
  };
  for (const k of [1, 2, 3])
    await create(
      { Image: `bench/keep-${k}:v${k}`, Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' } },
      `created-${k}`,
    );
  if (hasBusybox) {
    const running = await create(
      { Image: 'bench/busybox:1', Cmd: ['/bin/busybox', 'sleep', '1000'], HostConfig: { NetworkMode: 'none' } },
      'running-1',
    );
    const s = await engine.api('POST', `/containers/${running}/start`);
    if (s.status !== 204) throw new Error(`start: ${s.status} ${s.body}`);
    const exited = await create(
      { Image: 'bench/busybox:1', Cmd: ['/bin/busybox', 'true'], HostConfig: { NetworkMode: 'none' } },
      'exited-1',
    );
    await engine.api('POST', `/containers/${exited}/start`);
    await engine.api('POST', `/containers/${exited}/wait`);
  }
  return made;
}

const fmtCounts = (obj) =>
  Object.entries(obj)
    .map(([k, n]) => `${n}x ${k}`)
    .join(', ');
const sum = (obj, pred = () => true) =>
  Object.entries(obj)
    .filter(([k]) => pred(k))
    .reduce((s, [, n]) => s + n, 0);

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'imgsweep-inventory-'));
  const policy = {};
  for (const [k, text] of Object.entries(POLICIES)) writeFileSync((policy[k] = join(work, `${k}.yaml`)), text);
  const engine = await startDockerd();
  const rows = [];
  const notes = [];
  const calls = {}; // calls[N][what] = {key: count}
  const summaries = {};
  let proxy = null;
  try {
    log(`inventory: dockerd ${engine.version} (API ${engine.apiVersion}) in ${engine.dir}`);
    const bases = Array.from({ length: BASES }, (_, i) => layer(`inv-base-${i}`, 8192 + 97 * i));
    const tops = Array.from({ length: TOPS }, (_, i) => layer(`inv-top-${i}`, 2048 + 13 * i));
    const bb = busyboxLayer();
    if (bb)
      await engine.load(
        saveArchive([{ tags: ['bench/busybox:1'], created: '2026-01-01T00:00:00Z', layers: [bb] }]).archive,
      );
    proxy = await countingProxy(engine.socket, join(engine.dir, 'proxy.sock'));
    const state = join(work, 'state');
    let loaded = 0;
    let made = [];
    for (const n of SIZES) {
      const t0 = Date.now();
      await engine.load(saveArchive(images(loaded, n, bases, tops)).archive);
      loaded = n;
      if (made.length === 0) made = await containers(engine, Boolean(bb));
      const listed = (await engine.images()).length;
      log(`inventory: ${n} fixture images loaded (${listed} listed, with busybox) in ${Date.now() - t0} ms`);
      calls[n] = {};
      for (const [what, args] of [
        ['plan (a) deletes nothing', ['plan', '-p', policy.none, '--format', 'json']],
        ['plan (b) deletes ~10%', ['plan', '-p', policy.tenth, '--format', 'json']],
        ['inventory --format json', ['inventory', '--format', 'json']],
      ]) {
        proxy.reset();
        const r = check(await imgsweep([...args, '--host', proxy.host, '--state-dir', state]), `imgsweep ${what}`);
        calls[n][what] = proxy.snapshot();
        if (what.startsWith('plan')) {
          const s = JSON.parse(r.stdout).summary;
          if (s.estimate !== 'layers') throw new Error(`imgsweep ${what}: no estimate (${s.estimate})`);
          const read = calls[n][what]['GET /images/{ref}/history'] ?? 0;
          summaries[`${what} ${n}`] =
            `${s.deletes} deletes, ${s.untags} untags, ${s.kept} kept, estimate: ${s.estimate}; layers read for ${read} images`;
        }
        log(`inventory: N=${n} ${what}: ${proxy.total()} calls: ${fmtCounts(calls[n][what])}`);
      }
    }

    // Calls per N, and which paths grow.
    const first = SIZES[0];
    const last = SIZES.at(-1);
    for (const what of Object.keys(calls[first])) {
      for (const n of SIZES) rows.push(row(`${what}: engine calls, ${n} images`, sum(calls[n][what]), 'calls'));
      const growth =
        sum(calls[last][what], (k) => !LAYER_READS.has(k)) - sum(calls[first][what], (k) => !LAYER_READS.has(k));
      rows.push(row(`${what}: growth ${first}->${last} images, other than layer reads`, growth, 'calls', { max: 1 }));
      const reads =
        sum(calls[last][what], (k) => LAYER_READS.has(k)) - sum(calls[first][what], (k) => LAYER_READS.has(k));
      rows.push(row(`${what}: growth ${first}->${last} images, layer reads`, reads, 'calls', { max: 1 }));
      const keys = new Set([...Object.keys(calls[first][what]), ...Object.keys(calls[last][what])]);
      const grows = [...keys]
        .filter((k) => (calls[last][what][k] ?? 0) !== (calls[first][what][k] ?? 0))
        .map((k) => `${k} ${calls[first][what][k] ?? 0}->${calls[last][what][k] ?? 0}`);
      notes.push(
        `${what}: at ${last} images ${fmtCounts(calls[last][what])}; grows with N: ${grows.length ? grows.join(', ') : 'nothing'}`,
      );
    }
    for (const [k, v] of Object.entries(summaries)) notes.push(`${k} images: ${v}`);

    // Wall times on the largest engine, direct to its socket.
    await proxy.close();
    proxy = null;
    const t = { api: [], cli: [], inventory: [], planNone: [], planTenth: [] };
    for (let i = 0; i < RUNS; i++) {
      const a0 = performance.now();
      const r = await engine.api('GET', '/images/json?all=1');
      r.json();
      t.api.push(performance.now() - a0);
      t.cli.push(check(await engine.cli(['images', '-a', '--format', 'json']), 'docker images').ms);
      t.inventory.push(
        check(
          await imgsweep(['inventory', '--format', 'json', '--host', engine.host, '--state-dir', state]),
          'imgsweep inventory',
        ).ms,
      );
      t.planNone.push(
        check(
          await imgsweep(['plan', '-p', policy.none, '--format', 'json', '--host', engine.host, '--state-dir', state]),
          'imgsweep plan (a)',
        ).ms,
      );
      t.planTenth.push(
        check(
          await imgsweep(['plan', '-p', policy.tenth, '--format', 'json', '--host', engine.host, '--state-dir', state]),
          'imgsweep plan (b)',
        ).ms,
      );
    }
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
    const perRun = (k) => t[k].map((v, i) => v / t.cli[i]);
    const L = `${last} images`;
    const base = { baseline: m.cli, baselineName: 'docker images -a --format json' };
    rows.push(row(`GET /images/json?all=1 direct, ${L}`, m.api, 'ms'));
    rows.push(
      row(`docker images -a --format json, ${L}`, m.cli, 'ms', { baseline: m.api, baselineName: 'GET /images/json' }),
    );
    rows.push(row(`imgsweep inventory --format json, ${L}`, m.inventory, 'ms', base));
    rows.push(row(`imgsweep plan (a) deletes nothing, ${L}`, m.planNone, 'ms', base));
    rows.push(
      row(
        `imgsweep plan (a) / docker images, ${L}, median of ${RUNS} per-run ratios`,
        median(perRun('planNone')),
        'x',
        { atMost: TARGET_PLAN },
      ),
    );
    rows.push(row(`imgsweep plan (b) deletes ~10%, ${L}`, m.planTenth, 'ms', base));
    rows.push(
      row(
        `imgsweep plan (b) / docker images, ${L}, median of ${RUNS} per-run ratios`,
        median(perRun('planTenth')),
        'x',
        { atMost: TARGET_PLAN },
      ),
    );
    const f = (v) => v.map((x) => x.toFixed(0)).join('/');
    const fx = (v) => v.map((x) => x.toFixed(2)).join('/');
    notes.push(
      `dockerd ${engine.version} (API ${engine.apiVersion}), vfs; images share ${BASES} base + ${TOPS} top layers, each of its own size (every image shares bytes with another, so /system/df SharedSize is never 0; ${TOPS} distinct stacks); containers: ${made.join(', ')}; plus bench/busybox:1`,
    );
    notes.push(
      `${RUNS} runs at ${L}, median; samples ms: API ${f(t.api)}, docker images ${f(t.cli)}, inventory ${f(t.inventory)}, plan (a) ${f(t.planNone)}, plan (b) ${f(t.planTenth)}; per-run ratios to docker images: plan (a) ${fx(perRun('planNone'))}, plan (b) ${fx(perRun('planTenth'))}; the usage record is kept across runs (steady state)`,
    );
  } finally {
    await proxy?.close();
    await engine.stop();
    rmSync(work, { recursive: true, force: true });
  }
  emitResults('inventory', rows, notes, { engine: `dockerd ${engine.version} (API ${engine.apiVersion})` });
}

await main();
