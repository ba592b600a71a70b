/**
 * The BuildKit build cache under a policy, on a real dockerd: records made by real builds (docker build with
 * BuildKit, --network none, FROM a local busybox), planned and removed by imgsweep, checked on the engine.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { buildCacheRecords, buildWithCache, startSlowBuild, type BuildCacheRecord } from '../support/buildkit.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { importBusybox, loadImage } from '../support/fixtures.js';
import { startPodman } from '../support/podman.js';

/** What the planner may take: not in use, not shared with an image (keepShared), not internal. */
const removable = (r: BuildCacheRecord) => !r.InUse && !r.Shared && r.Type !== 'internal';

describe.skipIf(engineTestsSkipped())('the build cache on a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let base: string;
  let counter = 0;

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'isw-cache-'));
    base = 'isw-base/busybox:1';
    await importBusybox(t.docker, base);
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh state dir and policy file per call; times are an hour ahead, so every record counts as unused. */
  async function cli(policy: string, ...args: string[]) {
    const n = ++counter;
    const file = join(dir, `policy-${n}.yaml`);
    await writeFile(file, policy);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    return runCli([...args, '-p', file, '--host', t.host, '--state-dir', join(dir, `state-${n}`), '--now', later]);
  }

  const ids = (records: BuildCacheRecord[]) => new Set(records.map((r) => r.ID));

  it('plans the unused records, keeps shared and in-use ones with a reason, and apply removes exactly those', async () => {
    await buildWithCache(t, { tag: 'bc/app:1', base, files: { 'a.txt': 'one' }, cacheMount: 'app' });
    const before = await buildCacheRecords(t.docker);
    expect(before.some((r) => r.Shared)).toBe(true);
    expect(before.some((r) => r.Type === 'exec.cachemount')).toBe(true);

    const planned = await cli('version: 1\nbuildCache: { unusedFor: 30m }\n', 'plan', '--format', 'json');
    expect(planned.code, planned.stderr).toBe(0);
    const plan = JSON.parse(planned.stdout) as Plan;
    const cache = plan.buildCache!;
    expect(cache.status).toBe('evaluated');
    expect(new Set(cache.remove.map((r) => r.id))).toEqual(ids(before.filter(removable)));
    expect(
      cache.kept
        .filter((k) => k.reason === 'shared')
        .map((k) => k.id)
        .sort(),
    ).toEqual(
      before
        .filter((r) => r.Shared)
        .map((r) => r.ID)
        .sort(),
    );
    expect(cache.bytes).toBe(before.filter(removable).reduce((n, r) => n + r.Size, 0));

    const text = await cli('version: 1\nbuildCache: { unusedFor: 30m }\n', 'plan');
    expect(text.stdout).toMatch(/^Build cache: \d+ records, .*; remove \d+ records/m);
    expect(text.stdout).toContain('shared with an image (keepShared)');

    const applied = await cli('version: 1\nbuildCache: { unusedFor: 30m }\n', 'apply', '--yes', '--json');
    expect(applied.code, applied.stderr).toBe(0);
    const report = JSON.parse(applied.stdout) as {
      engines: {
        buildCache: { summary: { removed: number; failed: number; bytesReclaimed: number; othersGone: number } };
      }[];
    };
    const summary = report.engines[0]!.buildCache.summary;
    expect(summary).toMatchObject({ removed: before.filter(removable).length, failed: 0, othersGone: 0 });
    expect(summary.bytesReclaimed).toBeGreaterThan(0);
    const after = await buildCacheRecords(t.docker);
    // Exactly the planned records went: the shared ones (and anything else) are still there.
    expect(ids(after)).toEqual(new Set([...ids(before)].filter((id) => !ids(before.filter(removable)).has(id))));
  });

  it('a build running while apply runs keeps its records, and succeeds', async () => {
    await buildWithCache(t, { tag: 'bc/old:1', base, files: { 'b.txt': 'two' }, cacheMount: 'old' });
    const slow = await startSlowBuild(t, {
      tag: 'bc/slow:1',
      base,
      seconds: 6,
      files: { 'c.txt': 'three' },
      cacheMount: 'slow',
    });
    const during = await slow.running();
    const busy = during.filter((r) => r.InUse);
    expect(busy.length).toBeGreaterThan(0);

    const applied = await cli('version: 1\nbuildCache: { unusedFor: 1s }\n', 'apply', '--yes', '--json-lines');
    expect(applied.code, applied.stderr).toBe(0);
    const steps = applied.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.type === 'remove-build-cache');
    expect(steps.length).toBeGreaterThan(0);
    // None of the running build's records was touched.
    expect(steps.some((s) => busy.some((b) => b.ID === s.record))).toBe(false);
    const outcome = await slow.finished;
    expect(outcome.ok, outcome.output).toBe(true);
  });

  it('removes the records `docker builder prune --filter until=…` removes, for the equivalent policy', async () => {
    await buildWithCache(t, { tag: 'bc/diff:1', base, files: { 'e.txt': 'six' }, cacheMount: 'diff' });
    await buildWithCache(t, { tag: 'bc/diff:2', base, files: { 'f.txt': 'seven' } });
    // The engine's first disk-usage read after a build that used a cache mount counts as a use of that record
    // (its LastUsedAt moves to the read): read once now, so neither side's read below moves it.
    await buildCacheRecords(t.docker);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    // prune without --all leaves shared, internal and frontend records; until compares LastUsedAt.
    const file = join(dir, 'diff.yaml');
    await writeFile(
      file,
      'version: 1\nbuildCache:\n  unusedFor: 3s\n  types: [regular, exec.cachemount, source.local, source.git.checkout]\n',
    );
    const planned = await runCli([
      'plan',
      '-p',
      file,
      '--host',
      t.host,
      '--state-dir',
      join(dir, 'diff-state'),
      '--format',
      'json',
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const ours = new Set((JSON.parse(planned.stdout) as Plan).buildCache!.remove.map((r) => r.id));
    expect(ours.size).toBeGreaterThan(0);
    const pruned = await t.cli(['builder', 'prune', '--force', '--filter', 'until=3s']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const theirs = new Set([...pruned.stdout.matchAll(/^([a-z0-9]{20,})$/gm)].map((m) => m[1]!));
    const plan = JSON.parse(planned.stdout) as Plan;
    expect(theirs, JSON.stringify(plan.buildCache, null, 1)).toEqual(ours);
  });

  it('removes the records `docker builder prune --keep-storage` removes, for the equivalent keepBytes policy', async () => {
    // An empty cache first: records an earlier test used twice would weigh differently in the engine's order.
    expect((await t.cli(['builder', 'prune', '--all', '--force'])).code).toBe(0);
    // Six records of one use each (FROM scratch, one COPY), of different sizes, used one after the other; with
    // equal use counts the engine's order is least recently used first, as keepBytes's always is.
    for (let i = 0; i < 6; i++) {
      const iid = await buildWithCache(t, {
        tag: `bc/keep:${i}`,
        base: 'scratch',
        files: { [`k${i}`]: `keep ${i}\n`.padEnd(20_000 * (1 + ((i * 5) % 6)), '.') },
        steps: [`COPY k${i} /k${i}`],
      });
      await t.docker.getImage(iid).remove();
    }
    const records = await buildCacheRecords(t.docker);
    const regular = records
      .filter((r) => r.Type === 'regular')
      .sort((a, b) => a.LastUsedAt!.localeCompare(b.LastUsedAt!));
    expect(regular.length).toBe(6);
    // Keep all but the three least recently used (and a little over): both sides stop after those three.
    const total = records.filter((r) => !r.Shared).reduce((n, r) => n + r.Size, 0);
    const keep = total - regular.slice(0, 3).reduce((n, r) => n + r.Size, 0) + 1_000;
    const file = join(dir, 'keep.yaml');
    await writeFile(file, `version: 1\nbuildCache:\n  keepBytes: ${keep}B\n  types: [regular]\n`);
    const planned = await runCli([
      'plan',
      '-p',
      file,
      '--host',
      t.host,
      '--state-dir',
      join(dir, 'keep-state'),
      '--format',
      'json',
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const ours = new Set((JSON.parse(planned.stdout) as Plan).buildCache!.remove.map((r) => r.id));
    expect(ours).toEqual(ids(regular.slice(0, 3)));
    const pruned = await t.cli([
      'builder',
      'prune',
      '--force',
      '--filter',
      'type=regular',
      '--keep-storage',
      String(keep),
    ]);
    expect(pruned.code, pruned.stderr).toBe(0);
    const theirs = new Set([...pruned.stdout.matchAll(/^([a-z0-9]{20,})$/gm)].map((m) => m[1]!));
    expect(theirs).toEqual(ours);
  });

  it('a record used again after planning is skipped when the saved plan is applied', async () => {
    await buildWithCache(t, { tag: 'bc/again:1', base, files: { 'd.txt': 'four' }, cacheMount: 'again' });
    const policy = 'version: 1\nbuildCache: { unusedFor: 30m, types: [exec.cachemount] }\n';
    const file = join(dir, 'again-plan.json');
    const planned = await cli(policy, 'plan', '-o', file, '--quiet');
    expect(planned.code, planned.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
    const mount = plan.buildCache!.remove.find((r) => r.description.includes('again'));
    expect(mount, JSON.stringify(plan.buildCache)).toBeDefined();

    // The same cache mount, used by another build after the plan was made.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await buildWithCache(t, { tag: 'bc/again:2', base, files: { 'd.txt': 'five' }, cacheMount: 'again' });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const applied = await runCli([
      'apply',
      file,
      '--host',
      t.host,
      '--state-dir',
      join(dir, 'again-state'),
      '--yes',
      '--json-lines',
      '--now',
      later,
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    const step = applied.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.record === mount!.id);
    expect(step).toMatchObject({ outcome: 'skipped', reason: { code: 'used-since-plan' } });
    expect(ids(await buildCacheRecords(t.docker)).has(mount!.id)).toBe(true);
  });

  it('inventory shows the build cache, and a saved inventory plans it as the engine does', async () => {
    await buildWithCache(t, { tag: 'bc/inv:1', base, files: { 'g.txt': 'eight' }, cacheMount: 'inv' });
    const records = await buildCacheRecords(t.docker);
    const shown = await runCli(['inventory', '--host', t.host, '--state-dir', join(dir, 'inv-state')]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^build cache: ${records.length} records, .* reclaimable$`, 'm'));
    const saved = join(dir, 'inv.json');
    const snap = await runCli(['inventory', '-o', saved, '--host', t.host, '--state-dir', join(dir, 'inv-state')]);
    expect(snap.code, snap.stderr).toBe(0);
    const policy = 'version: 1\nbuildCache: { unusedFor: 30m }\n';
    const live = JSON.parse((await cli(policy, 'plan', '--format', 'json')).stdout) as Plan;
    const file = join(dir, 'inv-policy.yaml');
    await writeFile(file, policy);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const offline = await runCli(['plan', '-p', file, '--inventory', saved, '--now', later, '--format', 'json']);
    expect(offline.code, offline.stderr).toBe(0);
    const fromFile = JSON.parse(offline.stdout) as Plan;
    expect(fromFile.buildCache!.remove.map((r) => r.id).sort()).toEqual(
      live.buildCache!.remove.map((r) => r.id).sort(),
    );
    expect(fromFile.buildCache!.remove.length).toBeGreaterThan(0);
  });

  it('removes a chain longer than one request (25 records each), and exactly the planned part of the cache', async () => {
    // One build of 30 COPY steps: a chain of 30 regular records on the base; its image removed, so they are private.
    const files = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, `chain ${i}\n`]));
    const earlier = ids(await buildCacheRecords(t.docker));
    const iid = await buildWithCache(t, {
      tag: 'bc/chain:1',
      base,
      files,
      steps: Object.keys(files).map((f) => `COPY ${f} /${f}`),
    });
    await t.docker.getImage(iid).remove();
    const before = await buildCacheRecords(t.docker);
    const chain = before.filter((r) => !earlier.has(r.ID) && r.Type === 'regular' && removable(r));
    expect(chain.length).toBe(30);

    // Only regular records: the source.local ones (and the shared and in-use ones) stay.
    const policy = 'version: 1\nbuildCache: { unusedFor: 30m, types: [regular] }\n';
    const plan = JSON.parse((await cli(policy, 'plan', '--format', 'json')).stdout) as Plan;
    const planned = new Set(plan.buildCache!.remove.map((r) => r.id));
    for (const r of chain) expect(planned.has(r.ID)).toBe(true);
    expect(before.some((r) => r.Type === 'source.local' && removable(r))).toBe(true);

    const applied = await cli(policy, 'apply', '--yes', '--json');
    expect(applied.code, applied.stderr).toBe(0);
    const report = JSON.parse(applied.stdout) as {
      engines: { buildCache: { summary: { removed: number; failed: number; skipped: number; othersGone: number } } }[];
    };
    expect(report.engines[0]!.buildCache.summary).toMatchObject({
      removed: planned.size,
      failed: 0,
      skipped: 0,
      othersGone: 0,
    });
    expect(ids(await buildCacheRecords(t.docker))).toEqual(new Set([...ids(before)].filter((id) => !planned.has(id))));
  });

  it('over maxImageBytes, the budget removes build-cache records first and evicts images only when they are not enough', async () => {
    await buildWithCache(t, { tag: 'bc/budget:1', base, files: { 'h.txt': 'nine' }, cacheMount: 'budget' });
    await buildWithCache(t, { tag: 'bc/budget:2', base, files: { 'i.txt': 'ten' } });
    await buildCacheRecords(t.docker); // the first read after a cache-mount build counts as a use (see above)
    const budget = (max: number, target: number) =>
      `version: 1\nbuildCache: { unusedFor: 1000d }\ndisk: { maxImageBytes: ${max}B, targetImageBytes: ${target}B }\nlimits: { maxDeletionsPercent: 100 }\n`;
    const planFor = async (max: number, target: number) => {
      const r = await cli(budget(max, target), 'plan', '--format', 'json');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Plan;
    };
    const total = (await planFor(2 ** 50, 2 ** 49)).disk!.goals[0]!.before;
    const cacheBytes = (await buildCacheRecords(t.docker)).filter(removable).reduce((n, r) => n + r.Size, 0);
    expect(cacheBytes).toBeGreaterThan(0);

    // Half the removable cache is enough: no image goes.
    const half = await planFor(total - 1, total - Math.floor(cacheBytes / 2));
    expect(half.disk).toMatchObject({ status: 'over-limit', evicted: 0, targetReached: true });
    expect(half.disk!.cacheEvicted).toBeGreaterThan(0);
    expect(half.actions.filter((a) => a.type === 'delete')).toEqual([]);

    // More than the whole cache: every removable record, then images.
    const max = total - 1;
    const target = total - cacheBytes - 1;
    const both = await planFor(max, target);
    expect(both.disk!.cacheEvictedBytes).toBe(cacheBytes);
    expect(both.disk!.evicted).toBeGreaterThan(0);
    const text = await cli(budget(max, target), 'plan');
    expect(text.stdout).toMatch(/removing \d+ build-cache records \(.*\) first, then evicting \d+ images?/);

    const applied = await cli(budget(max, target), 'apply', '--yes', '--json');
    expect(applied.code, applied.stderr).toBe(0);
    const left = ids(await buildCacheRecords(t.docker));
    for (const r of both.buildCache!.remove) expect(left.has(r.id)).toBe(false);
    const images = new Set((await t.docker.listImages({ all: true })).map((i) => i.Id));
    const evicted = both.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
    expect(evicted.length).toBe(both.disk!.evicted);
    for (const id of evicted) expect(images.has(id)).toBe(false);
  });

  it('on Podman the section is not applicable: said, nothing changes, not an error', async () => {
    const podman = await startPodman();
    try {
      const id = await loadImage(podman.docker, { tags: ['bc/podman:1'] });
      const file = join(dir, 'podman.yaml');
      await writeFile(file, 'version: 1\nbuildCache: { unusedFor: 1s, keepBytes: 1B }\n');
      const args = ['-p', file, '--host', podman.host, '--state-dir', join(dir, 'podman-state')];
      const planned = await runCli(['plan', ...args]);
      expect(planned.code, planned.stderr).toBe(0);
      expect(planned.stdout).toContain(
        'Build cache: not applicable: the engine keeps no BuildKit build cache (Podman); nothing changes.',
      );
      const applied = await runCli(['apply', ...args, '--yes']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(/^Nothing to do on /m);
      expect((await podman.docker.listImages()).some((i) => i.Id === id || `sha256:${i.Id}` === id)).toBe(true);
    } finally {
      await podman.stop();
    }
  });
});
