/** plan, inventory and explain through the command line against a real dockerd: they read, and never change, the engine. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import { planProblems } from '../../src/execute/plan-file.js';
import type { PlanDiff } from '../../src/diff/plan-diff.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { buildChild, importBusybox, loadImage, runContainer } from '../support/fixtures.js';

// Deletes every untagged image (no age condition), anything unused that is a month old, and whatever is in
// isw/run or isw/stop (which their containers must save); a label protects one old image.
const POLICY = `version: 1
name: integration
protect:
  labels: ["com.example.keep"]
rules:
  - name: dangling
    match: { untagged: true }
  - name: old-unused
    match: { unused: true }
    olderThan: 30d
  - name: scratch
    match: { repositories: ["isw/run", "isw/stop"] }
`;

interface Fixtures {
  twoTags: string;
  oldUntagged: string;
  youngUntagged: string;
  labelled: string;
  busybox: string;
  child: { id: string; intermediates: string[] };
  looseChild: { id: string; intermediates: string[] };
  running: { image: string; container: string };
  stopped: { image: string; container: string };
}

interface EngineState {
  images: string[];
  containers: string[];
}

describe.skipIf(engineTestsSkipped())('plan, inventory and explain against a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let policy: string;
  let now: string;
  let f: Fixtures;
  let before: EngineState;

  /** Every image (with its tags and parent) and every container (with its state), sorted. */
  const engineState = async (): Promise<EngineState> => {
    const images = await t.docker.listImages({ all: true });
    const containers = await t.docker.listContainers({ all: true });
    return {
      images: images.map((i) => `${i.Id} ${i.ParentId} ${[...(i.RepoTags ?? [])].sort().join(',')}`).sort(),
      containers: containers.map((c) => `${c.Id} ${c.ImageID} ${c.State}`).sort(),
    };
  };

  const cli = (args: string[]) => runCli(args);
  // A private state dir: the last-used record of this throwaway engine must not land in /var/lib/imgsweep or ~.
  const live = (...args: string[]) => cli([...args, '--host', t.host, '--now', now, '--state-dir', join(dir, 'state')]);

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-plan-'));
    policy = join(dir, 'policy.yaml');
    await writeFile(policy, POLICY);

    const { docker } = t;
    const twoTags = await loadImage(docker, { tags: ['isw/two:1', 'isw/two:2'], created: '2020-01-02T03:04:05Z' });
    const oldUntagged = await loadImage(docker, { created: '2021-06-01T00:00:00Z' });
    const youngUntagged = await loadImage(docker, {});
    const labelled = await loadImage(docker, {
      tags: ['isw/labelled:1'],
      created: '2019-05-01T00:00:00Z',
      labels: { 'com.example.keep': 'yes', team: 'platform' },
    });
    const busybox = await importBusybox(docker, 'isw/busybox:1');
    const child = await buildChild(t, { from: 'isw/busybox:1', tag: 'isw/child:1' });
    const looseChild = await buildChild(t, { from: 'isw/busybox:1' });
    const runImage = await importBusybox(docker, 'isw/run:1');
    const stopImage = await importBusybox(docker, 'isw/stop:1');
    const running = await runContainer(docker, 'isw/run:1', { running: true, name: 'isw-running' });
    const stopped = await runContainer(docker, 'isw/stop:1', { running: false, name: 'isw-stopped' });
    f = {
      twoTags,
      oldUntagged,
      youngUntagged,
      labelled,
      busybox,
      child,
      looseChild,
      running: { image: runImage, container: running },
      stopped: { image: stopImage, container: stopped },
    };
    // The fixtures the expectations below rely on.
    const ids = [twoTags, oldUntagged, youngUntagged, labelled, busybox, child.id, looseChild.id, runImage, stopImage];
    expect(new Set(ids).size).toBe(ids.length);
    expect(child.intermediates.length).toBeGreaterThan(0);
    expect(looseChild.intermediates.length).toBeGreaterThan(0);
    now = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000).toISOString();
    before = await engineState();
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const inventoryJson = async (): Promise<Inventory> => {
    const r = await live('inventory', '--format', 'json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as Inventory;
  };

  const planJson = async (): Promise<{ text: string; plan: Plan }> => {
    const r = await live('plan', '-p', policy, '--format', 'json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return { text: r.stdout, plan: JSON.parse(r.stdout) as Plan };
  };

  describe('inventory', () => {
    it('names the engine it read', async () => {
      const inv = await inventoryJson();
      const info = await t.docker.info();
      expect(inv.engine).toMatchObject({
        kind: 'docker',
        id: info.ID,
        host: t.host,
        rootDir: `${t.dir}/data`,
        driver: 'vfs',
        imageStore: 'classic',
      });
      expect(inv.capturedAt).toBe(now);
    });

    it('lists tagged, untagged and labelled images with their creation times', async () => {
      const images = new Map((await inventoryJson()).images.map((i) => [i.id, i]));
      expect(images.get(f.twoTags)).toMatchObject({
        repoTags: ['isw/two:1', 'isw/two:2'],
        repoDigests: [],
        parentId: null,
        created: '2020-01-02T03:04:05.000Z',
      });
      expect(images.get(f.oldUntagged)).toMatchObject({
        repoTags: [],
        repoDigests: [],
        created: '2021-06-01T00:00:00.000Z',
      });
      expect(images.get(f.youngUntagged)).toMatchObject({ repoTags: [], repoDigests: [] });
      expect(images.get(f.labelled)).toMatchObject({
        repoTags: ['isw/labelled:1'],
        created: '2019-05-01T00:00:00.000Z',
        labels: { 'com.example.keep': 'yes', team: 'platform' },
      });
      expect(images.get(f.busybox)).toMatchObject({ repoTags: ['isw/busybox:1'], parentId: null });
    });

    it('lists the legacy builder chains, untagged intermediates included, with their parents', async () => {
      const images = new Map((await inventoryJson()).images.map((i) => [i.id, i]));
      for (const { id, intermediates, tags } of [
        { ...f.child, tags: ['isw/child:1'] },
        { ...f.looseChild, tags: [] },
      ]) {
        const chain = [id, ...intermediates, f.busybox];
        for (let i = 0; i + 1 < chain.length; i++) expect(images.get(chain[i]!)?.parentId, chain[i]).toBe(chain[i + 1]);
        expect(images.get(id)?.repoTags).toEqual(tags);
        for (const step of intermediates) expect(images.get(step)?.repoTags, step).toEqual([]);
      }
    });

    it('lists every image the engine has (docker images -a), and the containers by image ID with their states', async () => {
      const inv = await inventoryJson();
      expect(inv.images.map((i) => i.id).sort()).toEqual(before.images.map((line) => line.split(' ')[0]).sort());
      expect(inv.containers).toHaveLength(2);
      const byId = new Map(inv.containers.map((c) => [c.id, c]));
      expect(byId.get(f.running.container)).toMatchObject({
        names: ['isw-running'],
        imageId: f.running.image,
        image: 'isw/run:1',
        state: 'running',
      });
      expect(byId.get(f.stopped.container)).toMatchObject({
        names: ['isw-stopped'],
        imageId: f.stopped.image,
        image: 'isw/stop:1',
        state: 'exited',
      });
    });

    it('shows the same images as a table', async () => {
      const r = await live('inventory');
      expect(r.code).toBe(0);
      const row = (id: string) => r.stdout.split('\n').find((l) => l.startsWith(`  ${id.slice(7, 19)}  `)) ?? '';
      expect(row(f.twoTags)).toContain('isw/two:1, isw/two:2');
      expect(row(f.running.image)).toMatch(/isw-running\(running\)$/);
      expect(row(f.stopped.image)).toMatch(/isw-stopped\(exited\)$/);
      expect(row(f.child.id)).toContain(f.child.intermediates[0]!.slice(7, 19));
    });
  });

  describe('plan', () => {
    it('plans exactly the untagged and old unused images, children before parents', async () => {
      const { plan } = await planJson();
      expect(planProblems(plan)).toEqual([]);
      const deletes = plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
      const expected = [f.twoTags, f.oldUntagged, f.youngUntagged, f.looseChild.id, ...f.looseChild.intermediates];
      expect([...deletes].sort()).toEqual([...expected].sort());
      const chain = [f.looseChild.id, ...f.looseChild.intermediates];
      expect(chain.map((id) => deletes.indexOf(id))).toEqual(
        [...chain.map((id) => deletes.indexOf(id))].sort((a, b) => a - b),
      );
      expect(plan.actions.find((a) => a.imageId === f.twoTags && a.type === 'delete')?.rule).toBe('old-unused');
      for (const id of [f.oldUntagged, f.youngUntagged, ...chain])
        expect(plan.actions.find((a) => a.imageId === id)?.rule, id).toBe('dangling');
    });

    it('untags all but one tag of the two-tag image before deleting it by ID, and removes no container', async () => {
      const { plan } = await planJson();
      const untags = plan.actions.filter((a) => a.type === 'untag');
      expect(untags).toHaveLength(1);
      expect(untags[0]).toMatchObject({ imageId: f.twoTags, rule: 'old-unused' });
      const del = plan.actions.find((a) => a.type === 'delete' && a.imageId === f.twoTags);
      expect([untags[0]!.ref, ...(del?.refs ?? [])].sort()).toEqual(['isw/two:1', 'isw/two:2']);
      expect(plan.actions.indexOf(untags[0]!)).toBeLessThan(plan.actions.indexOf(del!));
      expect(plan.actions.filter((a) => a.type === 'remove-container')).toEqual([]);
    });

    it('keeps the images of containers, the labelled image and the parent of a kept image, each with its reason', async () => {
      const { plan } = await planJson();
      const reason = (id: string) => plan.kept.find((k) => k.imageId === id)?.reason;
      expect(reason(f.running.image)).toBe('in-use');
      expect(reason(f.stopped.image)).toBe('in-use-stopped');
      expect(reason(f.labelled)).toBe('protected-label');
      for (const step of f.child.intermediates) expect(reason(step), step).toBe('parent-of-kept');
      expect(reason(f.child.id)).toBe('not-selected');
      expect(reason(f.busybox)).toBeDefined();
      expect(plan.summary).toMatchObject({
        deletes: 4 + f.looseChild.intermediates.length,
        untags: 1,
        removeContainers: 0,
        kept: plan.kept.length,
      });
      expect(plan.engine).toMatchObject({ host: t.host, kind: 'docker' });
    });

    it('gives from a saved inventory the same plan as from the live engine', async () => {
      const snap = join(dir, 'snap.json');
      const saved = await live('inventory', '-o', snap);
      expect(saved).toMatchObject({ code: 0, stdout: '' });
      expect(saved.stderr).toContain(snap);
      const fromSnap = await cli(['plan', '-p', policy, '--inventory', snap, '--now', now, '--format', 'json']);
      expect(fromSnap).toMatchObject({ code: 0, stderr: '' });
      expect(fromSnap.stdout).toBe((await planJson()).text);
      // The same inventory but for the disk measurement, which moves with everything else on the host's filesystem.
      const withoutDisk = ({ disk: _disk, ...rest }: Inventory) => rest;
      expect(withoutDisk(JSON.parse(await readFile(snap, 'utf8')) as Inventory)).toEqual(
        withoutDisk(await inventoryJson()),
      );
    });

    it('does not count a freshly loaded old image as unused for long: first seen is now ', async () => {
      const idle = join(dir, 'idle.yaml');
      await writeFile(
        idle,
        'version: 1\nrules:\n  - name: idle\n    match: { repositories: ["isw/two"] }\n    unusedFor: 1d\n',
      );
      const r = await live('plan', '-p', idle, '--format', 'json');
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as Plan;
      // isw/two was created in 2020 but this engine has had it for seconds, and no run has seen it before.
      expect(plan.actions).toEqual([]);
    });

    it('is the same plan every time', async () => {
      const [a, b] = [await planJson(), await planJson()];
      expect(b.text).toBe(a.text);
    });

    it('diff of two policies reads the engine once and shows what protecting isw/two changes', async () => {
      const kept = join(dir, 'protect-two.yaml');
      await writeFile(
        kept,
        POLICY.replace('  labels: ["com.example.keep"]', '  labels: ["com.example.keep"]\n  repositories: ["isw/two"]'),
      );
      const r = await live('diff', '-p', policy, '-p', kept, '--json', '--exit-code');
      expect(r.code, r.stderr).toBe(1);
      const d = JSON.parse(r.stdout) as PlanDiff;
      expect(d.images.map((c) => [c.imageId, c.before.fate, c.after.fate])).toEqual([[f.twoTags, 'deleted', 'kept']]);
      expect(d.after.engine.host).toBe(t.host);
      expect(d.notes).toEqual([]);
    });

    it('prints the text plan', async () => {
      const r = await live('plan', '-p', policy);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Plan: delete \d+ images .*untag 1 reference; keep \d+ images of \d+\.$/m);
      expect(r.stdout).toContain(f.twoTags.slice(7, 19));
    });
  });

  describe('explain', () => {
    const explain = (ref: string, ...more: string[]) => live('explain', ref, '-p', policy, ...more);
    const verdict = (text: string) => text.trimEnd().split('\n').at(-1);

    it('explains a deleted image by tag', async () => {
      const r = await explain('isw/two:2');
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.startsWith(`image ${f.twoTags.slice(7, 19)} (${f.twoTags}) for isw/two:2\n`)).toBe(true);
      expect(verdict(r.stdout)).toMatch(/^verdict: DELETED by rule old-unused /);
    });

    it('explains by normalized reference, full ID and ID prefix', async () => {
      const byRef = await explain('docker.io/isw/run:1');
      expect(byRef.code).toBe(0);
      expect(byRef.stdout).toContain('isw-running');
      expect(verdict(byRef.stdout)).toMatch(/^verdict: KEPT \(in-use\): used by running container isw-running/);
      const byId = await explain(f.stopped.image);
      expect(verdict(byId.stdout)).toMatch(/^verdict: KEPT \(in-use-stopped\): used by exited container isw-stopped/);
      const byPrefix = await explain(f.child.intermediates[0]!.slice(7, 19));
      expect(verdict(byPrefix.stdout)).toMatch(/^verdict: KEPT \(parent-of-kept\)/);
    });

    it('answers --json', async () => {
      const r = await explain(f.labelled, '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        imageId: f.labelled,
        deleted: false,
        kept: { reason: 'protected-label' },
        references: [{ ref: 'isw/labelled:1', fate: 'keep' }],
      });
    });

    it('rejects an image the engine does not have with exit 2', async () => {
      const r = await explain('isw/none:1');
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain('no image matches "isw/none:1"');
    });
  });

  it('left the engine as it was: same images, tags and containers (plan never deletes)', async () => {
    // Run last: every plan, inventory and explain above has read this engine.
    await planJson();
    expect(await engineState()).toEqual(before);
    expect((await t.docker.getContainer(f.running.container).inspect()).State.Running).toBe(true);
  });
});
