/**
 * Differential tests: `imgsweep apply` against the engine's own `docker image prune` on the same inventory.
 *
 * Two daemons get the same generated inventory (test/support/generate-fixtures.ts): loaded images have the
 * same IDs on both, built ones do not, so results are compared as sets of *roles*. Daemon A runs imgsweep,
 * daemon B runs prune; both are compared with the set the policy's semantics give for the generated facts
 * (`expectedDeletes`), so a mismatch says which side is wrong. Every comparison starts from empty daemons.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineTestsSkipped, startDockerd, startTogether, type TestEngine } from '../support/dockerd.js';
import { startRegistry, type TestRegistry } from '../support/fixtures.js';
import {
  describeInventory,
  expectedDeletes,
  generateInventory,
  goneRoles,
  resetEngine,
  snapshotRoles,
  type GenImage,
  type Inventory,
  type RoleState,
} from '../support/generate-fixtures.js';
import { runCommand, type CommandResult } from '../support/process.js';

const BIN = fileURLToPath(new URL('../../bin/imgsweep.js', import.meta.url));
const HOUR = 3_600_000;

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe.skipIf(engineTestsSkipped())('imgsweep apply vs docker image prune on the same inventory', () => {
  let a: TestEngine; // imgsweep
  let b: TestEngine; // docker image prune
  let registry: TestRegistry;
  let work: string;

  beforeAll(async () => {
    [a, b] = await startTogether<[TestEngine, TestEngine]>(startDockerd(), startDockerd());
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'isw-diff-'));
  });

  afterAll(async () => {
    await registry?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** `imgsweep apply -p POLICY --yes --json` on engine A with its own state dir; no DOCKER_HOST leaks in. */
  async function imgsweepApply(
    name: string,
    policy: string,
  ): Promise<{ result: CommandResult; summary: Record<string, number> }> {
    const file = join(work, `${name}.yaml`);
    await writeFile(file, policy);
    const stateDir = await mkdtemp(join(work, `${name}-state-`));
    const result = await runCommand(
      process.execPath,
      [BIN, 'apply', '-p', file, '--yes', '--json-lines', '--state-dir', stateDir, '--host', a.host],
      {
        env: { PATH: process.env.PATH, HOME: work },
        timeoutMs: 120_000,
      },
    );
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    let summary: Record<string, number> = {};
    try {
      summary = (JSON.parse(last) as { summary?: Record<string, number> }).summary ?? {};
    } catch {
      // reported by the exit-code assertion below with the whole output
    }
    return { result, summary };
  }

  interface Round {
    ia: Inventory;
    ib: Inventory;
    before: Map<string, GenImage>;
    afterA: Map<string, RoleState | null>;
    afterB: Map<string, RoleState | null>;
    goneA: string[];
    goneB: string[];
    prune: CommandResult;
    why: string;
  }

  /** Fresh identical inventories on A and B; imgsweep on A, prune on B; the state of every role afterwards. */
  async function round(seed: number, name: string, policy: string, pruneArgs: string[]): Promise<Round> {
    await Promise.all([resetEngine(a.docker), resetEngine(b.docker)]);
    const now = Date.now();
    const opts = { seed, now, registry: registry.address };
    const [ia, ib] = await Promise.all([generateInventory(a, opts), generateInventory(b, opts)]);
    // Same roles on both daemons; loaded images (not built ones) even have the same IDs.
    expect(sorted(ib.byRole.keys())).toEqual(sorted(ia.byRole.keys()));
    for (const img of ia.images) {
      const other = ib.byRole.get(img.role)!;
      if (img.kind !== 'built' && img.kind !== 'intermediate') expect(other.id, img.role).toBe(img.id);
      expect(
        { tags: other.tags, parent: other.parent, running: other.running, stopped: other.stopped },
        img.role,
      ).toEqual({
        tags: img.tags,
        parent: img.parent,
        running: img.running,
        stopped: img.stopped,
      });
    }

    const [applied, prune] = await Promise.all([imgsweepApply(name, policy), b.cli(['image', 'prune', ...pruneArgs])]);
    const why = `inventory:\n${describeInventory(ia)}\n\nimgsweep stdout:\n${applied.result.stdout}\nimgsweep stderr:\n${applied.result.stderr}\n\nprune:\n${prune.stdout}${prune.stderr}`;
    expect(applied.result.code, why).toBe(0);
    expect(applied.summary, why).toMatchObject({ failed: 0, skipped: 0 });
    expect(prune.code, why).toBe(0);

    const [sa, sb] = await Promise.all([snapshotRoles(a.docker, ia), snapshotRoles(b.docker, ib)]);
    expect(sa.unknown, why).toEqual([]);
    expect(sb.unknown, why).toEqual([]);
    // prune's own report names the images it deleted (and their layers): the roles it names are the ones gone.
    const prunedIds = [...prune.stdout.matchAll(/^deleted: (sha256:[0-9a-f]{64})$/gm)].map((m) => m[1]!);
    expect(sorted(prunedIds.filter((id) => ib.byId.has(id)).map((id) => ib.byId.get(id)!.role)), why).toEqual(
      goneRoles(sb),
    );
    return {
      ia,
      ib,
      before: ia.byRole,
      afterA: sa.roles,
      afterB: sb.roles,
      goneA: goneRoles(sa),
      goneB: goneRoles(sb),
      prune,
      why,
    };
  }

  const inUse = (img: GenImage) => img.running + img.stopped > 0;
  const untagged = (img: GenImage) => img.tags.length === 0;

  /** Every image still there (on A or B; all of them, or the given roles) kept exactly the tags it had. */
  function expectRefsUntouched(r: Round, on: 'A' | 'B', roles?: string[]) {
    const [after, inv] = on === 'A' ? [r.afterA, r.ia] : [r.afterB, r.ib];
    for (const img of r.ia.images) {
      if (roles && !roles.includes(img.role)) continue;
      const now = after.get(img.role);
      if (now === null || now === undefined) continue;
      expect({ role: img.role, tags: now.tags }, r.why).toEqual({
        role: img.role,
        tags: inv.byRole.get(img.role)!.tags,
      });
    }
  }

  it('match {untagged: true} deletes what `docker image prune -f` deletes (digest-only images included)', async () => {
    const policy = 'version: 1\nname: diff-untagged\nrules:\n  - name: untagged\n    match: { untagged: true }\n';
    const r = await round(101, 'untagged', policy, ['-f']);
    const expected = sorted(expectedDeletes(r.ia, untagged));
    expect(r.goneA, r.why).toEqual(expected);
    expect(r.goneB, r.why).toEqual(r.goneA);
    // The inventory really exercised the interesting cases:
    expect(expected).toEqual(
      expect.arrayContaining([
        'chain0-head',
        'chain0-mid',
        'chain0-root', // dangling head with untagged parents
        'build-dangling',
        'build-dangling~1',
        'build-branch', // legacy builds: dangling final, and a branch off a shared intermediate
      ]),
    );
    for (const kept of ['build-tagged~1', 'chain1-mid', 'chain2-root', 'bb-dangling-running', 'bb-dangling-stopped'])
      expect(expected).not.toContain(kept);
    // Digest-only (RepoDigests, no tags): `untagged` to imgsweep. Measured on Engine 20.10, prune -f
    // removes it too (its refs hold no NamedTagged), so it is no exception to the equality above.
    expect(r.ia.byRole.get('digest-only')!.digests).toHaveLength(1);
    expect(r.goneA).toContain('digest-only');
    expect(r.goneB).toContain('digest-only');
    // Neither side touched a tag of an image that stays.
    expectRefsUntouched(r, 'A');
    expectRefsUntouched(r, 'B');
  }, 180_000);

  it('match {unused: true} deletes what `docker image prune -a -f` deletes; only prune strips tags of in-use images (moby#36295)', async () => {
    const policy = 'version: 1\nname: diff-unused\nrules:\n  - name: unused\n    match: { unused: true }\n';
    const r = await round(102, 'unused', policy, ['-a', '-f']);
    const expected = sorted(expectedDeletes(r.ia, () => true));
    expect(r.goneA, r.why).toEqual(expected);
    expect(r.goneB, r.why).toEqual(r.goneA);
    for (const kept of [
      'bb-base',
      'bb-stopped',
      'bb-dangling-running',
      'bb-dangling-stopped',
      'build-used',
      'build-used~1',
    ])
      expect(expected).not.toContain(kept);

    const used = r.ia.images.filter(inUse).map((i) => i.role);
    // imgsweep: every tag of every in-use image stays (images used by a running container are never touched).
    expectRefsUntouched(r, 'A', used);
    // prune -a: deleting an in-use image's references one by one untags all but the last (the engine checks
    // containers only when removing the last one): the running container's image lost its extra tag.
    const base = r.before.get('bb-base')!;
    expect(base.tags).toHaveLength(2);
    const baseAfter = r.afterB.get('bb-base');
    expect(baseAfter, r.why).not.toBeNull();
    expect(baseAfter!.tags, r.why).toHaveLength(1);
    const stripped = base.tags.filter((t) => !baseAfter!.tags.includes(t));
    expect(stripped, r.why).toHaveLength(1);
    expect(r.prune.stdout).toContain(`untagged: ${stripped[0]}`);
    // The same happens under a stopped container.
    expect(r.afterB.get('bb-stopped')?.tags, r.why).toHaveLength(1);
    expect(r.afterA.get('bb-stopped')?.tags, r.why).toEqual(r.before.get('bb-stopped')!.tags);
  }, 180_000);

  it('match {untagged: true} with olderThan: 48h deletes what `docker image prune -f --filter until=48h` deletes', async () => {
    const policy =
      'version: 1\nname: diff-until\nrules:\n  - name: old-untagged\n    match: { untagged: true }\n    olderThan: 48h\n';
    const r = await round(103, 'until', policy, ['-f', '--filter', 'until=48h']);
    const cutoff = r.ia.now - 48 * HOUR;
    const expected = sorted(expectedDeletes(r.ia, (i) => untagged(i) && Date.parse(i.created) < cutoff));
    expect(r.goneA, r.why).toEqual(expected);
    expect(r.goneB, r.why).toEqual(r.goneA);
    // Both sides of the cutoff are present among the dangling images.
    const dangling = r.ia.images.filter((i) => untagged(i) && !inUse(i) && i.children.length === 0);
    expect(dangling.some((i) => Date.parse(i.created) < cutoff)).toBe(true);
    expect(dangling.some((i) => Date.parse(i.created) > cutoff)).toBe(true);
    expect(expected).toEqual(expect.arrayContaining(['chain0-head', 'chain0-mid', 'chain0-root', 'digest-only']));
    expect(expected).not.toContain('build-dangling'); // built just now
    expectRefsUntouched(r, 'A');
    expectRefsUntouched(r, 'B');
  }, 180_000);

  it('match {unused: true, labels: [team=a]} vs `docker image prune -a -f --filter label=team=a`: prune also takes untagged parents and strips tags', async () => {
    const policy =
      'version: 1\nname: diff-label\nrules:\n  - name: team-a\n    match: { unused: true, labels: ["team=a"] }\n';
    const r = await round(104, 'label', policy, ['-a', '-f', '--filter', 'label=team=a']);
    const expected = sorted(expectedDeletes(r.ia, (i) => i.labels.team === 'a'));
    expect(r.goneA, r.why).toEqual(expected);
    expect(expected).toContain('chain2-head');

    // prune deletes with its parent pruning: the unlabelled untagged parent of a deleted image goes too, although
    // the label filter does not match it. imgsweep removes only what the policy selects.
    const cascade = new Set(r.goneA);
    for (let grew = true; grew;) {
      grew = false;
      for (const img of r.ia.images) {
        if (cascade.has(img.role) || inUse(img) || img.tags.length + img.digests.length > 0) continue;
        if (img.children.length > 0 && img.children.every((c) => cascade.has(c))) {
          cascade.add(img.role);
          grew = true;
        }
      }
    }
    expect(r.goneB, r.why).toEqual(sorted(cascade));
    expect(sorted(cascade).filter((x) => !r.goneA.includes(x))).toEqual(['chain2-root']);
    expect(r.afterA.get('chain2-root'), r.why).not.toBeNull();

    // prune untags a matching image it cannot delete (it is the parent of an image that stays) and leaves it
    // as an untagged intermediate; imgsweep keeps an image that stays with (at least) one reference.
    const root = r.before.get('chain1-root')!;
    expect(root.tags).toHaveLength(1);
    expect(r.afterB.get('chain1-root'), r.why).toEqual({ tags: [], digests: [] });
    expect(r.afterA.get('chain1-root'), r.why).toEqual({ tags: root.tags, digests: [] });
    expectRefsUntouched(r, 'A');
  }, 180_000);
});
