import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/engine/docker.js';
import type { Engine } from '../../src/engine/engine.js';
import { EngineUnavailable } from '../../src/errors.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import {
  buildChild,
  importBusybox,
  loadImage,
  pullImage,
  pushImage,
  randomLayer,
  runContainer,
  startRegistry,
} from '../support/fixtures.js';

describe.skipIf(engineTestsSkipped())('dockerode engine against a real dockerd', () => {
  let t: TestEngine;
  let engine: Engine;
  let busybox: string;

  beforeAll(async () => {
    t = await startDockerd();
    engine = await connectEngine({ host: t.host, env: {} });
    busybox = await importBusybox(t.docker, 'isw/busybox:1');
  });

  afterAll(async () => {
    engine?.close();
    await t?.stop();
  });

  const image = async (id: string) => (await engine.listImages()).find((i) => i.id === id);

  it('connects, pins the API version and identifies the daemon', async () => {
    const identity = await engine.identity();
    const info = await t.docker.info();
    expect(identity).toMatchObject({
      kind: 'docker',
      apiVersion: '1.41',
      id: info.ID,
      rootDir: `${t.dir}/data`,
      driver: 'vfs',
      imageStore: 'classic',
      host: t.host,
    });
    expect(identity.key).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keys two daemons on one host apart although they share the /info ID', async () => {
    const other = await startDockerd();
    try {
      const second = await connectEngine({ env: { DOCKER_HOST: other.host } });
      const [a, b] = [await engine.identity(), await second.identity()];
      second.close();
      expect(b.id).toBe(a.id);
      expect(b.key).not.toBe(a.key);
    } finally {
      await other.stop();
    }
  });

  it('fails on an unreachable socket with EngineUnavailable naming the path', async () => {
    const path = `${t.dir}/nothing-here.sock`;
    const attempt = connectEngine({ host: `unix://${path}`, env: {}, timeoutMs: 5_000 });
    await expect(attempt).rejects.toThrow(EngineUnavailable);
    await expect(attempt).rejects.toThrow(new RegExp(`${path}.*check the address given with --host`));
  });

  it('bounds every call: an engine that accepts but never answers times out as EngineUnavailable', async () => {
    const path = `${t.dir}/silent.sock`;
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const started = Date.now();
      await expect(connectEngine({ host: `unix://${path}`, env: {}, timeoutMs: 500 })).rejects.toThrow(
        /timed out after 500 ms/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.close();
    }
  });

  it('loads images whose creation time and labels round-trip, untagged ones without placeholders', async () => {
    const tagged = await loadImage(t.docker, {
      tags: ['isw/load:1', 'isw/load:2'],
      created: '2020-01-02T03:04:05Z',
      labels: { team: 'a' },
    });
    const dangling = await loadImage(t.docker, { created: '2021-06-01T00:00:00Z' });
    expect(await image(tagged)).toMatchObject({
      repoTags: ['isw/load:1', 'isw/load:2'],
      repoDigests: [],
      created: '2020-01-02T03:04:05.000Z',
      labels: { team: 'a' },
      parentId: null,
      sharedSize: null,
    });
    expect(await image(dangling)).toMatchObject({
      repoTags: [],
      repoDigests: [],
      labels: {},
      created: '2021-06-01T00:00:00.000Z',
    });
  });

  it('reports layers with sizes, shared between images that were given the same layer', async () => {
    const base = randomLayer(8192);
    const a = await loadImage(t.docker, { layers: [base, randomLayer(1000)] });
    const b = await loadImage(t.docker, { layers: [base] });
    const [la, lb] = [await engine.imageLayers(a), await engine.imageLayers(b)];
    expect(la).toHaveLength(2);
    expect(lb).toEqual([la[0]]);
    expect(la[0]!.size).toBeGreaterThanOrEqual(8192);
    expect(la[1]!.size).toBeGreaterThanOrEqual(1000);
  });

  it('resolves references to full IDs, and to null when they point nowhere', async () => {
    expect(await engine.resolveReference('isw/busybox:1')).toBe(busybox);
    expect(await engine.resolveReference(busybox)).toBe(busybox);
    expect(await engine.resolveReference('isw/none:1')).toBeNull();
    expect(await engine.resolveReference('Not/Valid:1')).toBeNull();
  });

  it('runs busybox containers and lists them by ImageID with states and times', async () => {
    const running = await runContainer(t.docker, 'isw/busybox:1', { running: true, name: 'isw-running' });
    const stopped = await runContainer(t.docker, busybox, { running: false, name: 'isw-stopped' });
    const containers = await engine.listContainers();
    const r = containers.find((c) => c.id === running);
    const s = containers.find((c) => c.id === stopped);
    expect(r).toMatchObject({
      names: ['isw-running'],
      imageId: busybox,
      image: 'isw/busybox:1',
      state: 'running',
      finishedAt: null,
      mountImageIds: [],
    });
    expect(r!.startedAt).not.toBeNull();
    expect(s).toMatchObject({ names: ['isw-stopped'], imageId: busybox, state: 'exited' });
    expect(s!.startedAt).not.toBeNull();
    expect(s!.finishedAt).not.toBeNull();
    expect((await t.docker.getContainer(stopped).inspect()).State.ExitCode).toBe(0);
  });

  it('builds parent/child chains with the legacy builder', async () => {
    const child = await buildChild(t, { from: 'isw/busybox:1', tag: 'isw/child:1' });
    expect(child.intermediates.length).toBeGreaterThan(0);
    const chain = [child.id, ...child.intermediates, busybox];
    for (let i = 0; i + 1 < chain.length; i++) expect((await image(chain[i]!))?.parentId).toBe(chain[i + 1]);
    expect((await image(child.intermediates[0]!))?.repoTags).toEqual([]);
    const cli = await t.cli(['images', '-a', '-q', '--no-trunc']);
    expect(cli.code).toBe(0);
    for (const id of chain) expect(cli.stdout).toContain(id);
  });

  it('gives pulled images real RepoDigests (registry push then pull)', async () => {
    const registry = await startRegistry();
    try {
      const ref = `${registry.address}/isw/pushed:1`;
      const id = await loadImage(t.docker, { tags: [ref] });
      await pushImage(t.docker, ref);
      expect(await engine.untag(ref)).toMatchObject({ status: 'done' });
      expect(await pullImage(t.docker, ref)).toBe(id);
      const pulled = await image(id);
      expect(pulled?.repoTags).toEqual([ref]);
      expect(pulled?.repoDigests).toEqual([
        expect.stringMatching(new RegExp(`^${registry.address}/isw/pushed@sha256:[0-9a-f]{64}$`)),
      ]);
    } finally {
      await registry.stop();
    }
  });

  it('untags one of two tags, and refuses to untag by ID', async () => {
    const id = await loadImage(t.docker, { tags: ['isw/untag:1', 'isw/untag:2'] });
    expect(await engine.untag('isw/untag:2')).toEqual({ status: 'done', deleted: [], untagged: ['isw/untag:2'] });
    expect((await image(id))?.repoTags).toEqual(['isw/untag:1']);
    expect(await engine.untag('isw/untag:2')).toMatchObject({ status: 'gone' });
    expect(await engine.untag(id)).toMatchObject({ status: 'failed', transport: false });
    expect(await image(id)).toBeDefined();
  });

  it('answers conflict for deleting an image with two tags or one used by a stopped container', async () => {
    const twoTags = await loadImage(t.docker, { tags: ['isw/two:1', 'isw/two:2'] });
    const conflict = await engine.deleteImage(twoTags);
    expect(conflict).toMatchObject({ status: 'conflict', message: expect.stringContaining('must be forced') });
    const used = await importBusybox(t.docker, 'isw/used:1');
    await runContainer(t.docker, 'isw/used:1', { running: false });
    expect(await engine.deleteImage(used)).toMatchObject({
      status: 'conflict',
      message: expect.stringContaining('stopped container'),
    });
    expect(await engine.untag('isw/used:1')).toMatchObject({
      status: 'conflict',
      message: expect.stringContaining('must force'),
    });
    expect(await image(used)).toBeDefined();
  });

  it('deletes by full ID with noprune: the untagged parent stays', async () => {
    const child = await buildChild(t, { from: 'isw/busybox:1', steps: ['LABEL isw.noprune=1'] });
    expect(child.intermediates).toEqual([]);
    const grandchild = await buildChild(t, { from: child.id, steps: ['LABEL isw.noprune=2'] });
    const outcome = await engine.deleteImage(grandchild.id);
    expect(outcome).toMatchObject({ status: 'done', untagged: [] });
    expect(outcome.status === 'done' && outcome.deleted).toContain(grandchild.id);
    expect(await image(grandchild.id)).toBeUndefined();
    expect(await image(child.id)).toBeDefined();
    expect(await engine.deleteImage(grandchild.id)).toMatchObject({ status: 'gone' });
    expect(await engine.deleteImage('isw/busybox:1')).toMatchObject({ status: 'failed', transport: false });
  });

  it('removes a stopped container, never a running one', async () => {
    const stopped = await runContainer(t.docker, busybox, { running: false });
    const running = await runContainer(t.docker, busybox, { running: true });
    expect(await engine.removeContainer(stopped)).toEqual({ status: 'done', deleted: [stopped], untagged: [] });
    expect(await engine.removeContainer(stopped)).toMatchObject({ status: 'gone' });
    expect(await engine.removeContainer(running)).toMatchObject({ status: 'conflict' });
    expect((await t.docker.getContainer(running).inspect()).State.Running).toBe(true);
  });

  it('reads container events in a time window', async () => {
    const since = new Date(Date.now() - 1_000);
    const byName = await runContainer(t.docker, 'isw/busybox:1', { running: false });
    const byId = await runContainer(t.docker, busybox, { running: false });
    const events = await engine.events(since, new Date(Date.now() + 1_000));
    expect(events.filter((e) => e.containerId === byName).map((e) => e.action)).toEqual(
      expect.arrayContaining(['create', 'start', 'die']),
    );
    expect(events.find((e) => e.containerId === byName)).toMatchObject({ image: 'isw/busybox:1', imageId: null });
    expect(events.find((e) => e.containerId === byId)).toMatchObject({ image: busybox, imageId: busybox });
    expect(await engine.events(new Date(Date.now() + 60_000), new Date(Date.now() + 120_000))).toEqual([]);
  });
});
