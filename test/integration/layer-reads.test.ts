/**
 * Layer reads for the reclaim estimate on a real dockerd: a few images per shared stack are read, the rest are
 * inferred from /system/df, and the estimate is what reading every image gives, and what the engine frees.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/engine/docker.js';
import type { Engine } from '../../src/engine/engine.js';
import type { ApplyReport } from '../../src/execute/types.js';
import { attachLayers } from '../../src/live/layers.js';
import { readInventory } from '../../src/live/read.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { buildChild, importBusybox, loadImages, randomLayer } from '../support/fixtures.js';
import { freedBytes } from '../support/layers.js';

const PER_BASE = 12;

describe.skipIf(engineTestsSkipped())('layer reads for the reclaim estimate against a real dockerd', () => {
  let t: TestEngine;
  let engine: Engine;
  let dir: string;
  const ids = { a: [] as string[], b: [] as string[], copies: [] as string[], alone: '' };

  const live = (...args: string[]) => runCli([...args, '--host', t.host, '--state-dir', join(dir, 'state')]);
  const policyFile = async (name: string, repos: string[]) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(
      file,
      `version: 1\nname: ${name}\nrules:\n  - name: gone\n    match: { repositories: ${JSON.stringify(repos)} }\n`,
    );
    return file;
  };
  /** Every image read, as the estimate needs without df: the reference. */
  const everyLayer = async () => {
    const inv = await readInventory(engine, Date.now());
    return Promise.all(inv.images.map(async (i) => ({ id: i.id, layers: await engine.imageLayers(i.id) })));
  };

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-layer-reads-'));
    engine = await connectEngine({ host: t.host, env: {} });
    // Two bases of two layers each, twelve images with a layer of their own on each, six copies of one stack
    // (nothing of their own), and one image that shares nothing.
    const a = [randomLayer(300_000), randomLayer(21_000)];
    const b = [randomLayer(410_000), randomLayer(33_000)];
    const top = randomLayer(55_000);
    // All in one docker load (one archive, each shared layer in it once).
    const loaded = await loadImages(t.docker, [
      ...Array.from({ length: PER_BASE }, (_, k) => ({
        tags: [`isw/lr-a${k}:1`],
        layers: [...a, randomLayer(1_000 + 37 * k)],
      })),
      ...Array.from({ length: PER_BASE }, (_, k) => ({
        tags: [`isw/lr-b${k}:1`],
        layers: [...b, randomLayer(2_000 + 41 * k)],
      })),
      ...Array.from({ length: 6 }, (_, k) => ({
        tags: [`isw/lr-copy${k}:1`],
        labels: { copy: String(k) },
        layers: [...a, top],
      })),
      { tags: ['isw/lr-solo:1'], layers: [randomLayer(77_000)] },
    ]);
    ids.a.push(...loaded.slice(0, PER_BASE));
    ids.b.push(...loaded.slice(PER_BASE, 2 * PER_BASE));
    ids.copies.push(...loaded.slice(2 * PER_BASE, 2 * PER_BASE + 6));
    ids.alone = loaded.at(-1)!;
  });

  afterAll(async () => {
    engine?.close();
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads one image per shared stack, and the layers it gives free what every image read would', async () => {
    const inv = await readInventory(engine, Date.now());
    expect(inv.images).toHaveLength(2 * PER_BASE + 7);
    const fetch = await attachLayers(engine, inv);
    // Base a (with a layer of one's own), base b, the copies' stack: three reads of 31 images.
    expect(fetch.fetched).toBe(3);
    const reference = await everyLayer();
    const all = [...ids.a, ...ids.b, ...ids.copies, ids.alone];
    for (const gone of [
      [ids.a[0]!],
      ids.a,
      [...ids.a, ...ids.copies],
      ids.copies,
      [ids.alone],
      ids.b.slice(0, 5),
      all,
    ]) {
      expect(freedBytes(inv.images, new Set(gone))).toBe(freedBytes(reference, new Set(gone)));
    }
  });

  it('a live plan, and a plan of its snapshot, estimate the same exact bytes', async () => {
    const policy = await policyFile('a-and-copies', ['isw/lr-a*', 'isw/lr-copy*']);
    const r = await live('plan', '-p', policy, '--format', 'json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.summary.estimate).toBe('layers');
    const gone = new Set([...ids.a, ...ids.copies]);
    expect(plan.summary.bytes).toBe(freedBytes(await everyLayer(), gone));
    const snapshot = join(dir, 'snapshot.json');
    expect(await live('inventory', '-o', snapshot, '--quiet')).toMatchObject({ code: 0, stderr: '' });
    const fromSnapshot = await runCli(['plan', '-p', policy, '--inventory', snapshot, '--format', 'json']);
    expect(fromSnapshot).toMatchObject({ code: 0 });
    expect((JSON.parse(fromSnapshot.stdout) as Plan).summary.bytes).toBe(plan.summary.bytes);
  });

  it('legacy builds sharing cached steps, and a committed container: exact for every set of their images', async () => {
    const family = [await importBusybox(t.docker, 'isw/lr-bb:1')];
    for (const k of [1, 2, 3, 4]) {
      const built = await buildChild(t, {
        from: 'isw/lr-bb:1',
        tag: `isw/lr-built${k}:1`,
        steps: [
          'RUN /bin/busybox dd if=/dev/zero of=/common bs=1024 count=300',
          `ENV K=${k}`,
          `RUN /bin/busybox dd if=/dev/zero of=/own bs=1000 count=${k}`,
        ],
      });
      family.push(built.id, ...built.intermediates);
    }
    const c = await t.docker.createContainer({
      Image: 'isw/lr-built1:1',
      Cmd: ['/bin/busybox', 'dd', 'if=/dev/zero', 'of=/y', 'bs=1024', 'count=50'],
    });
    await c.start();
    await c.wait();
    family.push(((await c.commit({ repo: 'isw/lr-committed', tag: '1' })) as { Id: string }).Id);
    await c.remove();
    const ids = [...new Set(family.map((id) => (id.startsWith('sha256:') ? id : `sha256:${id}`)))];
    // busybox; the first RUN's step, which the four builds share from the cache; each build's ENV step and image;
    // the commit.
    expect(ids).toHaveLength(11);

    const inv = await readInventory(engine, Date.now());
    const fetch = await attachLayers(engine, inv);
    expect(fetch.fetched).toBeLessThan(inv.images.length / 3);
    const reference = await everyLayer();
    for (let m = 0; m < 2 ** ids.length; m++) {
      const gone = new Set(ids.filter((_, k) => (m >> k) & 1));
      expect(freedBytes(inv.images, gone)).toBe(freedBytes(reference, gone));
    }
  });

  it('apply frees what the plan estimated, per /system/df', async () => {
    const saved = join(dir, 'plan.json');
    expect(
      await live(
        'plan',
        '-p',
        await policyFile('b-some', ['isw/lr-b1', 'isw/lr-b2', 'isw/lr-copy*', 'isw/lr-solo']),
        '-o',
        saved,
        '--quiet',
      ),
    ).toMatchObject({ code: 0 });
    const plan = JSON.parse(await readFile(saved, 'utf8')) as Plan;
    const expected = freedBytes(await everyLayer(), new Set([ids.b[1]!, ids.b[2]!, ...ids.copies, ids.alone]));
    expect(plan.summary.bytes).toBe(expected);
    const r = await live('apply', saved, '--yes', '--json-lines');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const { summary } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: ApplyReport['summary'] };
    expect(summary).toMatchObject({ deleted: 9, failed: 0, bytesEstimated: expected, bytesActual: expected });
  });
});
