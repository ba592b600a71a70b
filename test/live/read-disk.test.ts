/**
 * Which filesystem maxUsage measures: the data root on the classic store, containerd's root on the containerd
 * store (only where the engine names it), and why none when none can be measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineIdentity } from '../../src/inventory/types.js';
import { measureDisk, readInventory } from '../../src/live/read.js';
import { formatInventoryText } from '../../src/report/inventory-format.js';
import { inventory } from '../support/builders.js';
import { FakeEngine } from '../support/fake-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'imgsweep-read-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function engine(ident: Partial<EngineIdentity>, host?: string): FakeEngine {
  const inv = inventory([]);
  const fake = new FakeEngine({ ...inv, engine: { ...inv.engine, ...ident } });
  if (host) Object.defineProperty(fake, 'host', { value: host });
  return fake;
}

describe('the filesystem maxUsage measures', () => {
  it('classic store: the data root', async () => {
    const inv = await readInventory(engine({ imageStore: 'classic', rootDir: dir }), 0);
    expect(inv.disk).toMatchObject({ path: dir });
    expect(inv.disk!.totalBytes).toBeGreaterThan(0);
    expect(inv.diskUnmeasured).toBeUndefined();
  });

  it("containerd store: containerd's root where the engine names it, not the data root", async () => {
    const missing = join(dir, 'no-such-data-root');
    const inv = await readInventory(engine({ imageStore: 'containerd', rootDir: missing, containerdRoot: dir }), 0);
    expect(inv.disk).toMatchObject({ path: dir });
  });

  it('containerd store that does not say where containerd keeps its data: not measured, and why', async () => {
    const inv = await readInventory(engine({ imageStore: 'containerd', rootDir: dir }), 0);
    expect(inv.disk).toBeNull();
    expect(inv.diskUnmeasured).toBe(
      'the engine keeps its images in containerd, and does not say where containerd keeps its data',
    );
    expect(formatInventoryText(inv)).toContain(
      '0 images, 0 containers; disk not measured: the engine keeps its images in containerd',
    );
  });

  it('a remote engine, or a root that cannot be read: not measured, and why', async () => {
    expect(await measureDisk(engine({}, 'tcp://10.0.0.1:2376'), { ...inventory([]).engine, rootDir: dir })).toEqual({
      why: 'the engine is not on this machine',
    });
    const gone = join(dir, 'gone');
    expect(await measureDisk(engine({}), { ...inventory([]).engine, rootDir: gone })).toEqual({
      why: `${gone} cannot be measured here (ENOENT)`,
    });
  });
});
