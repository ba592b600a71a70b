/**
 * The disk budget when the engine's disk accounting is contended or cannot be had, on a real dockerd. Docker
 * serves one /system/df at a time and refuses the others while it runs; any client can be running one. The plan
 * must not change because of that, apply must delete what the plan shows and no more, and when the accounting
 * cannot be had at all the budget evicts nothing, says so and exits 1, while the rules still apply.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../../src/execute/types.js';
import type { Plan } from '../../src/plan/types.js';
import { busyDiskUsageProxy, hammerDiskUsage } from '../support/busy-df.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { loadImages, randomLayer } from '../support/fixtures.js';

const NOW = '2026-11-27T12:00:00Z';
const IMAGES = 26;

const deletes = (p: Plan) =>
  p.actions
    .filter((a) => a.type === 'delete')
    .map((a) => a.imageId)
    .sort();

describe.skipIf(engineTestsSkipped())('the disk budget while /system/df is busy, on a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let socket: string;
  let budget: string;
  let ruleAndBudget: string;
  const shared: string[] = [];
  let ruleImage: string;

  const cli = (host: string, ...args: string[]) =>
    runCli([...args, '--host', host, '--state-dir', join(dir, 'state'), '--now', NOW]);
  const planOf = async (host: string, policy: string, ...more: string[]) => {
    const r = await cli(host, 'plan', '-p', policy, '--format', 'json', ...more);
    return { ...r, plan: JSON.parse(r.stdout) as Plan };
  };
  const imageIds = async () => (await t.docker.listImages({ all: true })).map((i) => i.Id).sort();

  beforeAll(async () => {
    t = await startDockerd();
    socket = t.host.slice('unix://'.length);
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-busy-'));
    // Images on one 2 MB base, each with a layer of its own, created a day apart (the LRU order's tie-break).
    // All with one docker load (one archive, holding the base once).
    const base = randomLayer(2_000_000);
    const loaded = await loadImages(t.docker, [
      ...Array.from({ length: IMAGES }, (_, k) => ({
        tags: [`isw/busy-${k}:1`],
        created: new Date(Date.parse('2020-01-01T00:00:00Z') + k * 86_400_000).toISOString(),
        layers: [base, randomLayer(150_000 + 1_000 * k)],
      })),
      {
        tags: ['isw/rule-old:1'],
        created: '2019-01-01T00:00:00Z',
        labels: { 'isw.rule': 'yes' },
        layers: [randomLayer(50_000)],
      },
    ]);
    shared.push(...loaded.slice(0, IMAGES));
    ruleImage = loaded[IMAGES]!;
    budget = join(dir, 'budget.yaml');
    await writeFile(
      budget,
      'version: 1\nprotect:\n  labels: ["isw.rule"]\ndisk:\n  maxImageBytes: 5MB\n  targetImageBytes: 4MB\n',
    );
    ruleAndBudget = join(dir, 'rule-and-budget.yaml');
    await writeFile(
      ruleAndBudget,
      'version: 1\nprotect:\n  repositories: ["isw/busy-*"]\nrules:\n  - name: old\n    match: { repositories: ["isw/rule-old"] }\n    olderThan: 30d\n' +
        'disk:\n  maxImageBytes: 1MB\n',
    );
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('another client keeping /system/df busy does not change the plan', async () => {
    const quiet = await planOf(t.host, budget);
    expect(quiet.code, quiet.stderr).toBe(0);
    const evicted = deletes(quiet.plan);
    // Over 5 MB, the budget evicts some of the shared images, not all: the base stays with the rest.
    expect(evicted.length).toBeGreaterThan(3);
    expect(evicted.length).toBeLessThan(IMAGES);
    const hammer = hammerDiskUsage(socket);
    try {
      for (let round = 0; round < 3; round++) {
        const busy = await planOf(t.host, budget);
        expect(busy.code, busy.stderr).toBe(0);
        expect(busy.plan.actions).toEqual(quiet.plan.actions);
        expect(busy.plan.summary).toEqual(quiet.plan.summary);
      }
    } finally {
      await hammer.stop();
    }
    // The contention was real: the other client was turned away while a df (imgsweep's or its own) ran.
    expect(hammer.counts.busy).toBeGreaterThan(0);
    expect(hammer.counts.ok).toBeGreaterThan(0);
  });

  it('apply -p --yes under the same contention deletes what the plan shows, no more, at the same estimate', async () => {
    const { plan } = await planOf(t.host, budget);
    const before = await imageIds();
    const hammer = hammerDiskUsage(socket);
    let r;
    try {
      r = await cli(t.host, 'apply', '-p', budget, '--yes', '--json-lines');
    } finally {
      await hammer.stop();
    }
    expect(r.code, r.stderr).toBe(0);
    const summary = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: ApplyReport['summary'] }).summary;
    expect(summary).toMatchObject({
      deleted: deletes(plan).length,
      failed: 0,
      skipped: 0,
      bytesEstimated: plan.summary.bytes,
    });
    expect(await imageIds()).toEqual(before.filter((id) => !deletes(plan).includes(id)));
    expect(hammer.counts.busy).toBeGreaterThan(0);
  });

  describe('when /system/df cannot be had within --timeout', () => {
    it('plan: the budget evicts nothing and says why, the rule still deletes, exit 1', async () => {
      const proxy = await busyDiskUsageProxy(socket, dir);
      try {
        const json = await planOf(proxy.host, ruleAndBudget, '--timeout', '2s');
        expect(json.code).toBe(1);
        expect(deletes(json.plan)).toEqual([ruleImage]);
        const text = await cli(proxy.host, 'plan', '-p', ruleAndBudget, '--timeout', '2s');
        expect(text.code).toBe(1);
        expect(text.stdout).toMatch(
          /disk budget skipped: the engine's disk accounting is unavailable \(\/system\/df: a disk usage operation is already running, after \d+ tries in 2 s\)/,
        );
        expect(proxy.refused).toBeGreaterThan(2);
      } finally {
        await proxy.close();
      }
    });

    it('apply -p --yes: only the rule deletes, exit 1', async () => {
      const before = await imageIds();
      const proxy = await busyDiskUsageProxy(socket, dir);
      try {
        const r = await cli(proxy.host, 'apply', '-p', ruleAndBudget, '--yes', '--timeout', '2s');
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout + r.stderr).toMatch(/disk budget skipped: the engine's disk accounting is unavailable/);
      } finally {
        await proxy.close();
      }
      expect(await imageIds()).toEqual(before.filter((id) => id !== ruleImage));
    });
  });
});
