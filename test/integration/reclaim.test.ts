/**
 * The reclaim estimate against a real dockerd: layers shared between images count only when every
 * image using them goes, and apply's actual bytes (the engine's /system/df LayersSize) match the estimate.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../../src/execute/types.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { buildChild, importBusybox, loadImages, randomLayer } from '../support/fixtures.js';

const MiB = 1024 * 1024;

describe.skipIf(engineTestsSkipped())('reclaim estimate with shared layers against a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let n = 0;
  const ids = {} as {
    a: string;
    b: string;
    c: string;
    base: string;
    copyD: string;
    copyE: string;
    childA: { id: string; intermediates: string[] };
    childB: { id: string; intermediates: string[] };
  };
  /** Layer sizes as the engine's history reports them, newest first. */
  const history = async (id: string): Promise<number[]> =>
    ((await t.docker.getImage(id).history()) as { Size: number }[]).map((h) => h.Size);
  const layersSize = async () => ((await t.docker.df()) as { LayersSize: number }).LayersSize;

  const live = (...args: string[]) => runCli([...args, '--host', t.host, '--state-dir', join(dir, 'state')]);
  const policyFile = async (rules: string) => {
    const file = join(dir, `policy-${++n}.yaml`);
    await writeFile(file, `version: 1\nname: reclaim\nrules:\n${rules}`);
    return file;
  };
  const plan = async (rules: string): Promise<Plan> => {
    const r = await live('plan', '-p', await policyFile(rules), '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as Plan;
  };
  const deleted = (p: Plan) =>
    new Map(p.actions.filter((a) => a.type === 'delete').map((a) => [a.imageId, a.bytes ?? 0]));
  // The reviewed-plan path: `plan -o` reads the layers (exact estimate), `apply PLAN.json` executes it.
  // (`apply -p --yes` estimates the same way: see the last test.)
  const apply = async (rules: string): Promise<{ summary: ApplyReport['summary']; lines: unknown[] }> => {
    const saved = join(dir, `plan-${++n}.json`);
    const made = await live('plan', '-p', await policyFile(rules), '-o', saved, '--quiet');
    expect(made).toMatchObject({ code: 0, stderr: '' });
    const r = await live('apply', saved, '--yes', '--json-lines');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { summary: (lines.at(-1) as { summary: ApplyReport['summary'] }).summary, lines };
  };

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-reclaim-'));
    const { docker } = t;
    // Three loaded images on one 4 MiB base layer; a and b add a layer of their own.
    const base = randomLayer(4 * MiB);
    // One base, then a layer of each image's own, then one 2 MiB diff (the same COPY, say) on top of each: the
    // base is shared, the two copies are two layers on disk.
    const copyBase = randomLayer(1 * MiB);
    const copy = randomLayer(2 * MiB);
    // All five with one docker load (one archive, each shared layer in it once).
    [ids.a, ids.b, ids.c, ids.copyD, ids.copyE] = (await loadImages(docker, [
      { tags: ['isw/shared-a:1'], layers: [base, randomLayer(1 * MiB)] },
      { tags: ['isw/shared-b:1'], layers: [base, randomLayer(2 * MiB)] },
      { tags: ['isw/shared-c:1'], layers: [base] },
      { tags: ['isw/copy-d:1'], layers: [copyBase, randomLayer(MiB / 2), copy] },
      { tags: ['isw/copy-e:1'], layers: [copyBase, randomLayer(MiB / 4), copy] },
    ])) as [string, string, string, string, string];
    // Two legacy-builder children of one busybox image, each adding one RUN layer on top of a LABEL step.
    ids.base = await importBusybox(docker, 'isw/rbase:1');
    ids.childA = await buildChild(t, {
      from: 'isw/rbase:1',
      tag: 'isw/rchild-a:1',
      steps: ['LABEL isw.child=a', 'RUN /bin/busybox dd if=/dev/urandom of=/payload bs=1024 count=1536'],
    });
    ids.childB = await buildChild(t, {
      from: 'isw/rbase:1',
      tag: 'isw/rchild-b:1',
      steps: ['LABEL isw.child=b', 'RUN /bin/busybox dd if=/dev/urandom of=/payload bs=1024 count=3072'],
    });
    expect(ids.childA.intermediates).toHaveLength(1);
    expect(ids.childB.intermediates).toHaveLength(1);
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the engine reports the layers as built: one 4 MiB base under a, b and c', async () => {
    const [ha, hb, hc] = [await history(ids.a), await history(ids.b), await history(ids.c)];
    expect(ha).toHaveLength(2);
    expect(hb).toHaveLength(2);
    expect(hc).toHaveLength(1);
    expect(ha[1]).toBe(hc[0]);
    expect(hc[0]).toBeGreaterThanOrEqual(4 * MiB);
    expect(ha[0]).toBeGreaterThanOrEqual(1 * MiB);
    expect(hb[0]).toBeGreaterThanOrEqual(2 * MiB);
  });

  it('deleting one image of three that share a base counts only its own layer, by layers', async () => {
    const p = await plan('  - name: a\n    match: { repositories: ["isw/shared-a"] }\n');
    expect(p.summary.estimate).toBe('layers');
    const own = (await history(ids.a))[0]!;
    expect(deleted(p)).toEqual(new Map([[ids.a, own]]));
    expect(p.summary.bytes).toBe(own);
  });

  it('deleting two of the three still keeps the base: each frees its own layer only', async () => {
    const p = await plan('  - name: ab\n    match: { repositories: ["isw/shared-a", "isw/shared-b"] }\n');
    expect(p.summary.estimate).toBe('layers');
    expect(deleted(p)).toEqual(
      new Map([
        [ids.a, (await history(ids.a))[0]!],
        [ids.b, (await history(ids.b))[0]!],
      ]),
    );
  });

  it('deleting every image that uses the base frees the base too, once', async () => {
    const p = await plan('  - name: abc\n    match: { repositories: ["isw/shared-*"] }\n');
    const [ha, hb, hc] = [await history(ids.a), await history(ids.b), await history(ids.c)];
    expect([...deleted(p).keys()].sort()).toEqual([ids.a, ids.b, ids.c].sort());
    expect(p.summary.bytes).toBe(ha[0]! + hb[0]! + hc[0]!);
  });

  it('deleting one legacy-builder child counts only its RUN layer, not the busybox layers it shares', async () => {
    const p = await plan('  - name: child\n    match: { repositories: ["isw/rchild-a"] }\n');
    expect(p.summary.estimate).toBe('layers');
    const run = (await history(ids.childA.id))[0]!;
    expect(run).toBeGreaterThanOrEqual(1.5 * MiB);
    expect(run).toBeLessThan(1.6 * MiB);
    expect(deleted(p)).toEqual(new Map([[ids.childA.id, run]]));
  });

  it('deleting the whole family (base, children, intermediates) frees the busybox layer too', async () => {
    const p = await plan(
      '  - name: family\n    match: { repositories: ["isw/rbase", "isw/rchild-*"] }\n  - name: steps\n    match: { untagged: true }\n',
    );
    const family = [ids.base, ids.childA.id, ids.childB.id, ...ids.childA.intermediates, ...ids.childB.intermediates];
    expect([...deleted(p).keys()].sort()).toEqual([...family].sort());
    const busyboxLayer = (await history(ids.base)).reduce((s, x) => s + x, 0);
    const runs = (await history(ids.childA.id))[0]! + (await history(ids.childB.id))[0]!;
    expect(busyboxLayer).toBeGreaterThan(100_000);
    expect(p.summary.bytes).toBe(busyboxLayer + runs);
    expect(deleted(p).get(ids.base)).toBe(busyboxLayer);
  });

  describe('apply: the engine frees what the plan estimated (within 5%)', () => {
    const close = (actual: number | null, estimated: number) => {
      expect(actual).not.toBeNull();
      expect(Math.abs(actual! - estimated)).toBeLessThanOrEqual(estimated * 0.05);
    };

    it('one of three sharing a base: only its own layer', async () => {
      const before = await layersSize();
      const { summary } = await apply('  - name: a\n    match: { repositories: ["isw/shared-a"] }\n');
      expect(summary).toMatchObject({ deleted: 1, failed: 0 });
      expect(summary.bytesEstimated).toBeGreaterThanOrEqual(1 * MiB);
      expect(summary.bytesEstimated).toBeLessThan(1.1 * MiB);
      close(summary.bytesActual, summary.bytesEstimated!);
      close(before - (await layersSize()), summary.bytesEstimated!);
      expect(await t.docker.getImage(ids.c).inspect()).toBeDefined();
    });

    it('one legacy-builder child: its RUN layer; the text report says "est. …, actual …"', async () => {
      const saved = join(dir, 'child-plan.json');
      expect(
        await live(
          'plan',
          '-p',
          await policyFile('  - name: child\n    match: { repositories: ["isw/rchild-a"] }\n'),
          '-o',
          saved,
          '--quiet',
        ),
      ).toMatchObject({ code: 0 });
      const r = await live('apply', saved, '--yes');
      expect(r).toMatchObject({ code: 0, stderr: '' });
      // 1536 KiB = 1.57 MB (SI units, as `docker images` shows sizes).
      expect(r.stdout).toMatch(/deleted 1 image \(est\. 1\.6 MB, actual 1\.6 MB\)/);
    });

    it('the same diff on two different stacks is two layers: each image frees its own copy of it', async () => {
      const [hd, he] = [await history(ids.copyD), await history(ids.copyE)];
      expect(hd[0]).toBe(he[0]);
      expect(hd[2]).toBe(he[2]);
      // d first: its own two layers (the copy included); the base stays with e. Then e: all three of its layers.
      for (const [name, bytes] of [
        ['isw/copy-d', hd[0]! + hd[1]!],
        ['isw/copy-e', he[0]! + he[1]! + he[2]!],
      ] as const) {
        const rules = `  - name: copy\n    match: { repositories: ["${name}"] }\n`;
        expect((await plan(rules)).summary).toMatchObject({ estimate: 'layers', bytes });
        const before = await layersSize();
        const { summary } = await apply(rules);
        expect(summary).toMatchObject({ deleted: 1, failed: 0, bytesEstimated: bytes });
        close(summary.bytesActual, bytes);
        close(before - (await layersSize()), bytes);
      }
    });

    it('the rest, unattended (apply -p --yes): the same exact estimate as `plan`, and the engine frees it', async () => {
      const rules =
        '  - name: all\n    match: { repositories: ["isw/shared-*", "isw/rbase", "isw/rchild-*"] }\n  - name: steps\n    match: { untagged: true }\n';
      const exact = await plan(rules);
      expect(exact.summary.estimate).toBe('layers');
      const before = await layersSize();
      const r = await live('apply', '-p', await policyFile(rules), '--yes', '--json-lines');
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const { summary } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: ApplyReport['summary'] };
      expect(summary).toMatchObject({ deleted: 6, failed: 0, skipped: 0, estimate: 'layers' });
      const [hb, hc] = [await history(ids.b).catch(() => null), await history(ids.c).catch(() => null)];
      expect([hb, hc]).toEqual([null, null]);
      // b's own 2 MiB, the 4 MiB base, busybox, child b's 3 MiB RUN layer.
      expect(exact.summary.bytes).toBeGreaterThan(9 * MiB);
      close(summary.bytesActual, exact.summary.bytes!);
      close(before - (await layersSize()), exact.summary.bytes!);
      // Never image sizes added up (they count a shared base once per image): the layers' figure.
      expect(summary.bytesEstimated).toBe(exact.summary.bytes);
      expect(await layersSize()).toBe(0);
      expect(await t.docker.listImages({ all: true })).toEqual([]);
    });
  });
});
