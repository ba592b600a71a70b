/**
 * Removing 500 BuildKit build-cache records on a real dockerd (vfs), on identical fixtures rebuilt before every
 * contender: 5 builds (`docker build --network none`, DOCKER_BUILDKIT=1) FROM scratch with 97 COPY steps each, the
 * images removed afterwards, so each build leaves 97 private regular records and 3 source.local ones (its context, its
 * Dockerfile and its .dockerignore): 500 unused records, nothing else.
 *   imgsweep   node bin/imgsweep.js apply -p POLICY --yes (policy: `buildCache: { keepBytes: 0B }`, no rules): it
 *              lists, reads the cache, plans, reads the cache again, then removes the records one request each
 *              (POST /build/prune naming the record), children first, and reads the cache once more
 *   prune      docker builder prune -a -f: one request, which removes the same 500 records
 * Each round runs both (which goes first alternates). Target: the median of the per-round imgsweep/prune ratios
 * ≤ 1.5 (at least 5 rounds). imgsweep's own split: time before execution vs execution, from its --json report.
 *
 *   node bench/build-cache-apply.bench.mjs [--rounds 5]     (after npm run build; needs a docker CLI that can run
 *   a BuildKit build: one older than 23, as Debian's docker.io 20.10, or one with buildx)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, imgsweep, run, startDockerd } from './engine.mjs';
import { emitResults, log, median, row } from './result.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const ROUNDS = Number(opt('--rounds', 5));
const BUILDS = 5;
const STEPS = 97; // an image may have at most 125 layers
const RECORDS = BUILDS * (STEPS + 3);
const TARGET = 1.5;
const POLICY = 'version: 1\nname: bench-build-cache\nbuildCache:\n  keepBytes: 0B\n';

/** A docker CLI that runs BuildKit builds: older than 23 (built in), or one with the buildx plugin. */
async function buildkitCli(env) {
  const seen = [];
  for (const bin of ['/usr/bin/docker', '/usr/local/bin/docker'].filter((b) => existsSync(b))) {
    const v = await run(bin, ['--version'], { env });
    if (Number(/version (\d+)\./.exec(v.stdout)?.[1] ?? NaN) < 23) return bin;
    if ((await run(bin, ['buildx', 'version'], { env })).code === 0) return bin;
    seen.push(`${bin}: ${v.stdout.trim()}, no buildx`);
  }
  throw new Error(`no docker CLI can run a BuildKit build (${seen.join('; ') || 'none found'})`);
}

/** GET /system/df's build-cache records. */
async function cacheRecords(engine) {
  const r = await engine.api('GET', '/system/df?type=build-cache');
  if (r.status !== 200) throw new Error(`GET /system/df: ${r.status} ${r.body.toString().slice(0, 300)}`);
  return r.json().BuildCache ?? [];
}

/** Builds the fixtures (contents differ by round, so nothing is a cache hit); returns the time taken. */
async function buildFixtures(engine, cli, work, round) {
  const t0 = Date.now();
  const env = { ...engine.env, DOCKER_BUILDKIT: '1', BUILDKIT_PROGRESS: 'plain' };
  for (let b = 0; b < BUILDS; b++) {
    const dir = join(work, `build-${b}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'context'), { recursive: true });
    const lines = ['FROM scratch'];
    for (let s = 0; s < STEPS; s++) {
      const name = `f${String(s).padStart(3, '0')}`;
      writeFileSync(join(dir, 'context', name), `round ${round} build ${b} step ${s}\n`.padEnd(4096 + 64 * s, '.'));
      lines.push(`COPY ${name} /${name}`);
    }
    writeFileSync(join(dir, 'Dockerfile'), `${lines.join('\n')}\n`);
    const iid = join(dir, 'iid');
    const args = ['build', '--network', 'none', '--iidfile', iid, '-f', join(dir, 'Dockerfile'), join(dir, 'context')];
    check(await run(cli, args, { env, timeoutMs: 600_000 }), `docker build (build ${b})`);
    const id = readFileSync(iid, 'utf8').trim();
    const r = await engine.api('DELETE', `/images/${id}`);
    if (r.status !== 200) throw new Error(`removing the built image ${id}: ${r.status}`);
  }
  const records = await cacheRecords(engine);
  const inUse = records.filter((r) => r.InUse || r.Shared).length;
  if (records.length !== RECORDS || inUse) {
    const types = {};
    for (const r of records) types[r.Type] = (types[r.Type] ?? 0) + 1;
    throw new Error(
      `fixtures: ${records.length} records ${JSON.stringify(types)} (${inUse} in use or shared), expected ${RECORDS} unused`,
    );
  }
  return Date.now() - t0;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'imgsweep-cache-apply-'));
  const engine = await startDockerd();
  try {
    const policy = join(work, 'policy.yaml');
    writeFileSync(policy, POLICY);
    const cli = await buildkitCli(engine.env);
    log(`build-cache apply: dockerd ${engine.version} (API ${engine.apiVersion}), CLI ${cli}, ${RECORDS} records`);
    const times = { imgsweep: [], prune: [] };
    const split = { pre: [], exec: [] };
    const reclaimed = { imgsweep: [], prune: [] };
    let stateN = 0;
    const contenders = {
      async imgsweep() {
        const state = join(work, `state-${stateN++}`);
        const r = await imgsweep([
          'apply',
          '-p',
          policy,
          '--yes',
          '--json',
          '--host',
          engine.host,
          '--state-dir',
          state,
        ]);
        check(r, 'imgsweep apply');
        const report = JSON.parse(r.stdout);
        const cache = report.engines[0].buildCache;
        if (cache?.summary.removed !== RECORDS || cache.summary.failed || cache.summary.skipped)
          throw new Error(`imgsweep apply: ${JSON.stringify(cache?.summary ?? report)}`);
        reclaimed.imgsweep.push(cache.summary.bytesReclaimed);
        const execMs = Date.parse(report.engines[0].finishedAt) - Date.parse(report.engines[0].startedAt);
        split.exec.push(execMs);
        split.pre.push(r.ms - execMs);
        return r.ms;
      },
      async prune() {
        const r = check(await run(cli, ['builder', 'prune', '-a', '-f'], { env: engine.env }), 'docker builder prune');
        const deleted = r.stdout.split('\n').filter((l) => /^[a-z0-9]{25}$/.test(l.trim())).length;
        if (deleted !== RECORDS) throw new Error(`docker builder prune deleted ${deleted} records:\n${r.stdout}`);
        reclaimed.prune.push(/Total reclaimed space: (.*)/.exec(r.stdout)?.[1] ?? '?');
        return r.ms;
      },
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 ? ['prune', 'imgsweep'] : ['imgsweep', 'prune']) {
        const built = await buildFixtures(engine, cli, work, round);
        const ms = await contenders[name]();
        const left = (await cacheRecords(engine)).length;
        if (left) throw new Error(`${name} round ${round + 1}: ${left} records left`);
        times[name].push(ms);
        log(`build-cache apply: round ${round + 1} ${name}: ${ms.toFixed(0)} ms (fixtures built in ${built} ms)`);
      }
    }
    const ratios = times.imgsweep.map((v, i) => v / times.prune[i]);
    const rows = [
      row(`apply ${RECORDS} cache records: imgsweep vs builder prune (medians)`, median(times.imgsweep), 'ms', {
        baseline: median(times.prune),
        baselineName: 'docker builder prune -a -f',
      }),
      row(`apply ${RECORDS} cache records: per-round ratio imgsweep/prune (median)`, median(ratios), 'x', {
        atMost: ROUNDS >= 5 ? TARGET : null,
      }),
    ];
    const notes = [
      `per-round ratios: ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
      `imgsweep before execution (node start, listing, cache reads, plan) ${median(split.pre).toFixed(0)} ms, execution (${RECORDS} removals, cache read before and after) ${median(split.exec).toFixed(0)} ms (medians)`,
      `reclaimed: imgsweep ${median(reclaimed.imgsweep)} bytes (SpaceReclaimed added up), builder prune ${reclaimed.prune[0]}`,
    ];
    emitResults('build-cache-apply', rows, notes, { engine: `dockerd ${engine.version}, API ${engine.apiVersion}` });
  } finally {
    await engine.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
