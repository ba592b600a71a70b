/**
 * The disk section against real engines: `maxImageBytes` on the engine's own layer totals, and `maxUsage` on the
 * filesystem of a dockerd whose data root is a small tmpfs. Over the limit the plan evicts unprotected, unused
 * images in LRU order (ties: oldest created, children first) until the estimate reaches the target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../../src/execute/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { formatBytes } from '../../src/report/bytes.js';
import { diskText } from '../../src/report/disk-text.js';
import type { UsageRecord } from '../../src/usage/store.js';
import {
  image as plainImage,
  idOf,
  inventory as plainInventory,
  layered,
  NOW,
  policy as plainPolicy,
  ago,
} from '../support/builders.js';
import { runCli, type CliResult } from '../support/cli.js';
import {
  DOCKERD_NOT_FOUND,
  engineTestsSkipped,
  getOnSocket,
  startDockerd,
  type TestEngine,
} from '../support/dockerd.js';
import { importBusybox, loadImage, loadImages, randomLayer, runContainer } from '../support/fixtures.js';
import { startPodman, type TestPodman } from '../support/podman.js';
import { exited, killGroup, mountsUnder, runCommand, stopChild, tailFile, waitFor, which } from '../support/process.js';

const MiB = 1024 * 1024;

/** Runs the CLI against an engine with a private state dir; plan/apply helpers parse the JSON. */
function cliFor(host: () => string, state: () => string) {
  const live = (...args: string[]): Promise<CliResult> => runCli([...args, '--host', host(), '--state-dir', state()]);
  return {
    live,
    plan: async (policyFile: string): Promise<Plan> => {
      const r = await live('plan', '-p', policyFile, '--format', 'json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as Plan;
    },
    apply: async (policyFile: string): Promise<ApplyReport['summary']> => {
      const r = await live('apply', '-p', policyFile, '--yes', '--json-lines');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: ApplyReport['summary'] }).summary;
    },
    /** Moves images' last-used times in the usage record, as if they had last run then. */
    setLastUsed: async (key: string, times: Record<string, string>) => {
      const path = join(state(), `usage-${key}.json`);
      const record = JSON.parse(await readFile(path, 'utf8')) as UsageRecord;
      for (const [id, lastUsed] of Object.entries(times))
        record.images[id] = { ...record.images[id]!, lastUsed, source: 'set by the test' };
      await writeFile(path, JSON.stringify(record), { mode: 0o600 });
    },
  };
}

/** The deleted image IDs in plan order (which is execution order: children before parents). */
const deleted = (p: Plan) => p.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
const sorted = (ids: (string | undefined)[]) => [...ids].sort();
const ownLayer = async (docker: Docker, id: string) =>
  ((await docker.getImage(id).history()) as { Size: number }[])[0]!.Size;

describe.skipIf(engineTestsSkipped())('disk.maxImageBytes against a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let key: string;
  const ids = {} as { keep: string; run: string; e1: string; e2: string; e3: string; e4: string };
  const c = cliFor(
    () => t.host,
    () => join(dir, 'state'),
  );
  const policy = async (name: string, disk: string) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `version: 1\nname: ${name}\nprotect:\n  labels: ["com.example.keep"]\ndisk:\n${disk}`);
    return file;
  };

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-disk-'));
    const { docker } = t;
    // Four 1 MiB images created in the order e1..e4, a protected one, and one a running container uses.
    [ids.keep, ids.e1, ids.e2, ids.e3, ids.e4] = (await loadImages(docker, [
      {
        tags: ['isw/keep:1'],
        created: '2019-01-01T00:00:00Z',
        labels: { 'com.example.keep': 'yes' },
        layers: [randomLayer(MiB)],
      },
      ...[1, 2, 3, 4].map((k) => ({
        tags: [`isw/e${k}:1`],
        created: `${2019 + k}-01-01T00:00:00Z`,
        layers: [randomLayer(MiB)],
      })),
    ])) as [string, string, string, string, string];
    ids.run = await importBusybox(docker, 'isw/disk-run:1');
    await runContainer(docker, 'isw/disk-run:1', { running: true });
    const inv = await c.live('inventory', '--format', 'json');
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let total: number;

  it("under the limit nothing is evicted, and the total is the engine's own layer total (/system/df)", async () => {
    const p = await c.plan(await policy('roomy', '  maxImageBytes: 100GB\n'));
    expect(deleted(p)).toEqual([]);
    total = ((await t.docker.df()) as { LayersSize: number }).LayersSize;
    expect(p.disk).toMatchObject({
      status: 'under-limit',
      goals: [{ measure: 'image-bytes', before: total }],
      evicted: 0,
      evictedBytes: 0,
    });
    expect(diskText(p.disk!)).toBe(`images ${formatBytes(total)} <= ${formatBytes(100e9)}: nothing to evict`);
  });

  it('over the limit it evicts least recently used first (not oldest created), skipping protected and in-use images, until the target', async () => {
    // Last used: e3 4 h ago, e1 3 h, e4 2 h, e2 1 h; the protected image longest ago of all.
    const now = Date.now();
    const hoursAgo = (h: number) => new Date(now - h * 3_600_000).toISOString();
    await c.setLastUsed(key, {
      [ids.keep]: hoursAgo(9),
      [ids.e3]: hoursAgo(4),
      [ids.e1]: hoursAgo(3),
      [ids.e4]: hoursAgo(2),
      [ids.e2]: hoursAgo(1),
      [ids.run]: hoursAgo(8),
    });
    // Over by half a MiB; the target needs two and a half MiB: exactly three of the 1 MiB images.
    const limit = total - MiB / 2;
    const target = total - 2.5 * MiB;
    const file = await policy('tight', `  maxImageBytes: ${limit}B\n  targetImageBytes: ${target}B\n`);
    const p = await c.plan(file);
    expect(deleted(p).sort()).toEqual(sorted([ids.e3, ids.e1, ids.e4]));
    for (const a of p.actions) expect(a.rule).toBe('disk');
    const bytes =
      (await ownLayer(t.docker, ids.e3)) + (await ownLayer(t.docker, ids.e1)) + (await ownLayer(t.docker, ids.e4));
    expect(p.summary).toMatchObject({ bytes, estimate: 'layers' });
    expect(p.disk).toMatchObject({
      status: 'over-limit',
      goals: [{ measure: 'image-bytes', before: total, limit, target }],
      evicted: 3,
      evictedBytes: bytes,
    });
    expect(diskText(p.disk!)).toBe(
      `images ${formatBytes(total)} > ${formatBytes(limit)}: evicting 3 images, est. ${formatBytes(bytes)}, to reach ${formatBytes(target)}`,
    );
    const text = await c.live('plan', '-p', file);
    expect(text.stdout).toContain(`Disk: ${diskText(p.disk!)}`);

    const summary = await c.apply(file);
    expect(summary).toMatchObject({ deleted: 3, failed: 0, skipped: 0, bytesEstimated: bytes });
    const left = (await t.docker.listImages({ all: true })).map((i) => i.Id).sort();
    expect(left).toEqual([ids.keep, ids.e2, ids.run].sort());
  });

  it('back under the limit, the same policy evicts nothing', async () => {
    const p = await c.plan(join(dir, 'tight.yaml'));
    expect(deleted(p)).toEqual([]);
    expect(p.disk).toMatchObject({ status: 'under-limit', evicted: 0 });
  });

  it('a remote engine (tcp://) has no filesystem to measure here: the plan says only maxImageBytes applies', async () => {
    // A plain TCP port in front of the engine's unix socket: to imgsweep, an engine on another machine.
    const server = createServer((socket) => {
      const upstream = connect(t.host.slice('unix://'.length));
      socket.pipe(upstream).pipe(socket);
      const close = () => (socket.destroy(), upstream.destroy());
      socket.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await runCli([
        'plan',
        '-p',
        await policy('remote', '  maxUsage: 1%\n  targetUsage: 0.5%\n'),
        '--host',
        `tcp://127.0.0.1:${port}`,
        '--state-dir',
        join(dir, 'state'),
        '--format',
        'json',
      ]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const p = JSON.parse(r.stdout) as Plan;
      expect(deleted(p)).toEqual([]);
      expect(p.disk).toMatchObject({
        status: 'not-evaluated',
        usageUnmeasured: true,
        usageUnmeasuredWhy: 'the engine is not on this machine',
        evicted: 0,
      });
      expect(diskText(p.disk!)).toMatch(
        /maxUsage not evaluated: the engine is not on this machine; only maxImageBytes applies/,
      );
    } finally {
      server.close();
    }
  });

  it('a saved inventory has no filesystem to measure: the plan says only maxImageBytes applies', async () => {
    const snap = join(dir, 'snap.json');
    expect((await c.live('inventory', '-o', snap)).code).toBe(0);
    const { disk: _disk, ...rest } = JSON.parse(await readFile(snap, 'utf8')) as Inventory;
    await writeFile(snap, JSON.stringify(rest));
    const r = await runCli([
      'plan',
      '-p',
      await policy('usage', '  maxUsage: 1%\n  targetUsage: 0.5%\n'),
      '--inventory',
      snap,
      '--format',
      'json',
    ]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout) as Plan;
    expect(deleted(p)).toEqual([]);
    expect(p.disk).toMatchObject({
      status: 'not-evaluated',
      usageUnmeasured: true,
      usageUnmeasuredWhy: 'the inventory holds no disk figures',
    });
  });
});

/**
 * A dockerd whose data root is a tmpfs of `sizeMb`, so that its filesystem can be filled with images. Needs
 * root (as dockerd does); `mountError` says why not when mounting is not permitted.
 */
class TmpfsDockerd {
  readonly socketPath: string;
  readonly host: string;
  readonly dataRoot: string;
  readonly docker: Docker;
  private child: ChildProcess | null = null;

  private constructor(readonly dir: string) {
    this.socketPath = join(dir, 'docker.sock');
    this.host = `unix://${this.socketPath}`;
    this.dataRoot = join(dir, 'data');
    this.docker = new Docker({
      socketPath: this.socketPath,
      host: undefined,
      protocol: 'http',
      version: 'v1.41',
      timeout: 120_000,
    });
  }

  static async start(sizeMb: number): Promise<TmpfsDockerd | { mountError: string }> {
    const bin = which('dockerd');
    if (bin === null) throw new Error(DOCKERD_NOT_FOUND);
    const d = new TmpfsDockerd(await mkdtemp('/tmp/isw-'));
    await mkdir(d.dataRoot);
    const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0711`, 'tmpfs', d.dataRoot], {
      timeoutMs: 10_000,
    });
    if (mounted.code !== 0) {
      await rm(d.dir, { recursive: true, force: true });
      return { mountError: `mount -t tmpfs failed (${mounted.code}): ${mounted.stderr.trim()}` };
    }
    const logPath = join(d.dir, 'dockerd.log');
    const log = openSync(logPath, 'a');
    const child = spawn(
      bin,
      [
        '--data-root',
        d.dataRoot,
        '--exec-root',
        join(d.dir, 'exec'),
        '--pidfile',
        join(d.dir, 'docker.pid'),
        '--host',
        d.host,
        '--storage-driver=vfs',
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    d.child = child;
    const ready = await waitFor(() => d.ping(), { timeoutMs: 30_000, stopEarly: () => exited(child) });
    if (!ready) {
      const tail = tailFile(logPath, 30);
      await d.destroy();
      throw new Error(`dockerd on tmpfs did not come up; log tail:\n${tail}`);
    }
    return d;
  }

  private async ping(): Promise<boolean> {
    return (await getOnSocket(this.socketPath, '/_ping'))?.status === 200;
  }

  /** Used fraction of the data root's filesystem, as df counts it. */
  async usage(): Promise<{ used: number; total: number }> {
    const s = await statfs(this.dataRoot);
    return { used: (s.blocks - s.bfree) * s.bsize, total: s.blocks * s.bsize };
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child) {
      try {
        for (const ct of await this.docker.listContainers({ all: true }))
          await this.docker.getContainer(ct.Id).remove({ force: true });
      } catch {
        // the daemon may be gone already
      }
      await stopChild(child, 15_000);
      killGroup(child, 'SIGKILL');
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // nothing left in its group
      }
      this.child = null;
    }
    for (const point of mountsUnder(this.dir)) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
    await rm(this.dir, { recursive: true, force: true });
  }
}

describe.skipIf(engineTestsSkipped())('disk.maxUsage on a dockerd whose data root is a 64 MiB tmpfs', () => {
  let d: TmpfsDockerd | null = null;
  let mountError: string | null = null;
  let dir: string;
  let key: string;
  const f: string[] = [];
  const c = cliFor(
    () => d!.host,
    () => join(dir, 'state'),
  );
  const policy = async (name: string, disk: string) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `version: 1\nname: ${name}\nprotect:\n  labels: ["com.example.keep"]\ndisk:\n${disk}`);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-tmpfs-'));
    const started = await TmpfsDockerd.start(64);
    if ('mountError' in started) {
      mountError = started.mountError;
      return;
    }
    d = started;
    // Eight 6 MiB images created a year apart (f[0] oldest, protected by label): about 48 of the 64 MiB.
    // One load at a time: a docker load unpacks its archive on the data root first, and the tmpfs holds one
    // 6 MiB image's archive beside the images, not all eight's.
    for (let i = 0; i < 8; i++) {
      f.push(
        await loadImage(d.docker, {
          tags: [`isw/fill${i}:1`],
          created: `${2016 + i}-01-01T00:00:00Z`,
          labels: i === 0 ? { 'com.example.keep': 'yes' } : {},
          layers: [randomLayer(6 * MiB)],
        }),
      );
    }
    const inv = await c.live('inventory', '--format', 'json');
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
  });

  afterAll(async () => {
    await d?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("measures the data root's filesystem (statfs) and evicts nothing under the limit", async ({ skip }) => {
    if (mountError) skip(mountError);
    const p = await c.plan(await policy('roomy', '  maxUsage: 99%\n  targetUsage: 98%\n'));
    const { used, total } = await d!.usage();
    expect(total).toBe(64 * MiB);
    expect(p.disk).toMatchObject({
      status: 'under-limit',
      goals: [{ measure: 'usage', limit: 0.99, target: 0.98, over: false }],
      evicted: 0,
    });
    expect(p.disk!.goals[0]!.before).toBeGreaterThan(0.7);
    expect(Math.abs(p.disk!.goals[0]!.before - used / total)).toBeLessThan(0.01);
    expect(diskText(p.disk!)).toMatch(
      /^disk \S+ \([\d.]+ [kMG]?B used, [\d.]+ [kMG]?B available: df's Use%\) \d+(\.\d)?% <= 99%: nothing to evict$/,
    );
    expect(deleted(p)).toEqual([]);
  });

  it('over maxUsage it evicts in LRU order (ties: oldest created) until the estimate reaches targetUsage; apply brings the disk there', async ({
    skip,
  }) => {
    if (mountError) skip(mountError);
    // The newest image was last used a day ago; every other one was first seen (and so used) by the run above.
    await c.setLastUsed(key, { [f[7]!]: ago('1d', Date.now()) });
    const { used, total } = await d!.usage();
    const share = (await ownLayer(d!.docker, f[1]!)) / total;
    const before = used / total;
    // Over the limit by half an image; the target needs two and a half images: exactly three must go.
    const max = Math.floor((before - share / 2) * 1000) / 10;
    const target = Math.floor((before - 2.5 * share) * 1000) / 10;
    const file = await policy('tight', `  maxUsage: ${max}%\n  targetUsage: ${target}%\n`);
    const p = await c.plan(file);
    // LRU first (fill7), then the oldest created among the ties (fill0 is protected): fill1, fill2.
    expect(deleted(p).sort()).toEqual(sorted([f[7], f[1], f[2]]));
    expect(p.disk).toMatchObject({ status: 'over-limit', goals: [{ measure: 'usage' }], evicted: 3 });
    expect(diskText(p.disk!)).toMatch(
      new RegExp(`^disk \\S+ \\(.*\\) [\\d.]+% > ${max}%: evicting 3 images, est\\. [\\d.]+ MB, to reach ${target}%$`),
    );
    expect(p.disk!.evictedBytes).toBe(
      (await ownLayer(d!.docker, f[7]!)) + (await ownLayer(d!.docker, f[1]!)) + (await ownLayer(d!.docker, f[2]!)),
    );

    const summary = await c.apply(file);
    expect(summary).toMatchObject({ deleted: 3, failed: 0 });
    const left = (await d!.docker.listImages({ all: true })).map((i) => i.Id).sort();
    expect(left).toEqual([f[0], f[3], f[4], f[5], f[6]].sort());
    const after = await d!.usage();
    expect(after.used / after.total).toBeLessThanOrEqual(target / 100);

    const again = await c.plan(file);
    expect(deleted(again)).toEqual([]);
    expect(diskText(again.disk!)).toMatch(new RegExp(`^disk \\S+ \\(.*\\) [\\d.]+% <= ${max}%: nothing to evict$`));
  });
});

describe('evictForDisk with plain data (ordering the real engines above cannot pin down)', () => {
  const plan = (disk: string, images: ReturnType<typeof plainImage>[], extra: Partial<Inventory> = {}) =>
    makePlan({
      policy: plainPolicy(`version: 1\ndisk:\n${disk}`),
      inventory: plainInventory(layered(images), [], extra),
      now: NOW,
    });
  const sameUse = (names: string[]) =>
    Object.fromEntries(names.map((n) => [idOf(n), { firstSeen: ago('5d'), lastUsed: ago('2d') }]));

  it('ties in last-used: oldest created goes first, and within a parent chain children before parents', () => {
    // base <- mid <- leaf, all created together; old is unrelated and older. Sizes: own bytes 100, 50, 60, 40.
    const images = [
      plainImage('base', { tags: ['base:1'], age: '10d', size: 100 }),
      plainImage('mid', { age: '10d', parent: 'base', size: 150 }),
      plainImage('leaf', { tags: ['leaf:1'], age: '10d', parent: 'mid', size: 210 }),
      plainImage('old', { tags: ['old:1'], age: '20d', size: 40 }),
    ];
    const usage = sameUse(['base', 'mid', 'leaf', 'old']);
    // Total 250: to reach 150, old (40) then leaf (60) must go.
    const p = plan('  maxImageBytes: 200B\n  targetImageBytes: 150B\n', images, { usage });
    expect(deleted(p).sort()).toEqual(sorted([idOf('old'), idOf('leaf')]));
    expect(p.disk).toMatchObject({ evicted: 2, evictedBytes: 100 });
    // With a target of 210 only one must go: old is oldest created, so leaf stays.
    expect(deleted(plan('  maxImageBytes: 220B\n  targetImageBytes: 210B\n', images, { usage }))).toEqual([
      idOf('old'),
    ]);
    // To reach 0 the whole chain goes, deleted leaf first and base last.
    const all = deleted(plan('  maxImageBytes: 200B\n  targetImageBytes: 0B\n', images, { usage }));
    expect(all.sort()).toEqual(sorted(['base', 'mid', 'leaf', 'old'].map(idOf)));
    const order = deleted(plan('  maxImageBytes: 200B\n  targetImageBytes: 0B\n', images, { usage }));
    expect(order.indexOf(idOf('leaf'))).toBeLessThan(order.indexOf(idOf('mid')));
    expect(order.indexOf(idOf('mid'))).toBeLessThan(order.indexOf(idOf('base')));
  });

  it('evicting an image frees only the layers no remaining image uses (shared base counted once, with its last user)', () => {
    const base = { digest: 'sha256:base', size: 1000 };
    const images = [
      plainImage('a', { tags: ['a:1'], layers: [base, { digest: 'sha256:a', size: 10 }], age: '30d' }),
      plainImage('b', { tags: ['b:1'], layers: [base, { digest: 'sha256:b', size: 20 }], age: '20d' }),
      plainImage('c', { tags: ['c:1'], layers: [{ digest: 'sha256:c', size: 500 }], age: '10d' }),
    ];
    // Total 1530; to reach 1000: a frees 10 only, then b frees 20 and the base.
    const p = plan('  maxImageBytes: 1500B\n  targetImageBytes: 1000B\n', images);
    expect(deleted(p).sort()).toEqual(sorted([idOf('a'), idOf('b')]));
    expect(p.summary).toMatchObject({ bytes: 1030, estimate: 'layers' });
    expect(p.disk).toMatchObject({ goals: [{ before: 1530 }], evicted: 2, evictedBytes: 1030 });
  });

  it('rules go first and count toward the limit; the message never claims a false inequality', () => {
    const images = [
      plainImage('x', { tags: ['x:1'], size: 100, age: '5d' }),
      plainImage('y', { tags: ['y:1'], size: 100, age: '50d' }),
      plainImage('z', { tags: ['z:1'], size: 100, age: '40d' }),
    ];
    const withRule = (disk: string) =>
      makePlan({
        policy: plainPolicy(`version: 1\nrules:\n  - name: x\n    match: { repositories: [x] }\ndisk:\n${disk}`),
        inventory: plainInventory(layered(images)),
        now: NOW,
      });
    // 300 B; the rule frees 100: still over 150, so the least recently used (y) goes too.
    const over = withRule('  maxImageBytes: 150B\n  targetImageBytes: 100B\n');
    expect(deleted(over).sort()).toEqual(sorted([idOf('x'), idOf('y')]));
    expect(over.actions.find((a) => a.imageId === idOf('y'))?.rule).toBe('disk');
    // The rule alone brings 300 B under 250 B. Whether eviction then goes on to the target or not, the
    // message must not claim "300 B <= 250 B".
    const enough = withRule('  maxImageBytes: 250B\n  targetImageBytes: 200B\n');
    expect(deleted(enough)).toContain(idOf('x'));
    expect(diskText(enough.disk!)).not.toContain('300 B <= 250 B');
  });

  it('maxUsage and maxImageBytes decide alike when the images are all that is on the disk', () => {
    const images = [
      plainImage('x', { tags: ['x:1'], size: 100, age: '5d' }),
      plainImage('y', { tags: ['y:1'], size: 100, age: '50d' }),
      plainImage('z', { tags: ['z:1'], size: 100, age: '40d' }),
    ];
    const withRule = (disk: string) =>
      makePlan({
        policy: plainPolicy(`version: 1\nrules:\n  - name: x\n    match: { repositories: [x] }\ndisk:\n${disk}`),
        inventory: plainInventory(layered(images), [], {
          disk: { totalBytes: 1000, usedBytes: 300, path: '/var/lib/docker' },
        }),
        now: NOW,
      });
    // 300 of 1000 bytes; the rule frees 100 of them. Over 250 (25%), target 200 (20%) / 150 (15%).
    for (const [usage, bytes] of [
      ['  maxUsage: 25%\n  targetUsage: 20%\n', '  maxImageBytes: 250B\n  targetImageBytes: 200B\n'],
      ['  maxUsage: 25%\n  targetUsage: 15%\n', '  maxImageBytes: 250B\n  targetImageBytes: 150B\n'],
    ]) {
      expect(deleted(withRule(usage!)).sort(), usage).toEqual(deleted(withRule(bytes!)).sort());
    }
  });

  it('says when the target cannot be reached because nothing else may go', () => {
    const images = [
      plainImage('a', { tags: ['a:1'], size: 100 }),
      plainImage('kept', { tags: ['kept:1'], size: 900, labels: { keep: '1' } }),
    ];
    const p = makePlan({
      policy: plainPolicy(
        'version: 1\nprotect: { labels: [keep] }\ndisk:\n  maxImageBytes: 500B\n  targetImageBytes: 100B\n',
      ),
      inventory: plainInventory(layered(images)),
      now: NOW,
    });
    expect(deleted(p)).toEqual([idOf('a')]);
    expect(p.disk).toMatchObject({ status: 'over-limit', evicted: 1, targetReached: false });
    expect(diskText(p.disk!)).toMatch(/evicting 1 image, .*\(target not reachable: nothing else may be evicted\)$/);
  });

  it('maxUsage uses the measured filesystem when there is one, and says only maxImageBytes applies when there is none', () => {
    const images = [
      plainImage('a', { tags: ['a:1'], size: 100 }),
      plainImage('b', { tags: ['b:1'], size: 100, age: '40d' }),
    ];
    const measured = plan('  maxUsage: 90%\n  targetUsage: 85%\n', images, {
      disk: { totalBytes: 1000, usedBytes: 950, path: '/var/lib/docker' },
    });
    expect(deleted(measured)).toEqual([idOf('b')]);
    expect(diskText(measured.disk!)).toMatch(
      /^disk \/var\/lib\/docker \(950 B used of 1\.0 kB\) 95% > 90%: evicting 1 image, est\. 100 B, to reach 85%$/,
    );
    const none = plan('  maxUsage: 90%\n  targetUsage: 85%\n  maxImageBytes: 1kB\n', images, { disk: null });
    expect(deleted(none)).toEqual([]);
    expect(diskText(none.disk!)).toMatch(
      /^images 200 B <= 1\.0 kB: nothing to evict\. maxUsage not evaluated: .*only maxImageBytes applies$/,
    );
  });
});

// Podman's /system/df says nothing: imgsweep measures the images by their layers (every image read).
describe.skipIf(engineTestsSkipped())('disk.maxImageBytes against a Podman service', () => {
  let p: TestPodman;
  let dir: string;
  let key: string;
  const ids = {} as { keep: string; e1: string; e2: string; e3: string };
  const c = cliFor(
    () => p.host,
    () => join(dir, 'state'),
  );

  beforeAll(async () => {
    p = await startPodman();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-disk-podman-'));
    [ids.keep, ids.e1, ids.e2, ids.e3] = (await loadImages(p.docker, [
      {
        tags: ['isw/pkeep:1'],
        created: '2019-01-01T00:00:00Z',
        labels: { 'com.example.keep': 'yes' },
        layers: [randomLayer(MiB)],
      },
      ...[1, 2, 3].map((k) => ({
        tags: [`isw/pe${k}:1`],
        created: `${2019 + k}-01-01T00:00:00Z`,
        layers: [randomLayer(MiB)],
      })),
    ])) as [string, string, string, string];
    const inv = await c.live('inventory', '--format', 'json');
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
  });

  afterAll(async () => {
    await p?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('evicts least recently used first, skipping the protected image, until the target; the engine frees those layers', async () => {
    const now = Date.now();
    const hoursAgo = (h: number) => new Date(now - h * 3_600_000).toISOString();
    await c.setLastUsed(key, {
      [ids.keep]: hoursAgo(9),
      [ids.e1]: hoursAgo(4),
      [ids.e3]: hoursAgo(3),
      [ids.e2]: hoursAgo(1),
    });
    const own = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await ownLayer(p.docker, id)] as const)),
    ) as Record<keyof typeof ids, number>;
    const total = own.keep + own.e1 + own.e2 + own.e3;
    expect(total).toBeGreaterThanOrEqual(4 * MiB);
    const file = join(dir, 'tight.yaml');
    const limit = total - MiB / 2;
    const target = total - 1.5 * MiB;
    await writeFile(
      file,
      `version: 1\nname: tight\nprotect:\n  labels: ["com.example.keep"]\ndisk:\n  maxImageBytes: ${limit}B\n  targetImageBytes: ${target}B\n`,
    );
    const plan = await c.plan(file);
    expect(deleted(plan).sort()).toEqual(sorted([ids.e1, ids.e3]));
    expect(plan.summary).toMatchObject({ bytes: own.e1 + own.e3, estimate: 'layers' });
    expect(plan.disk).toMatchObject({
      status: 'over-limit',
      goals: [{ measure: 'image-bytes', before: total, limit, target }],
      evicted: 2,
      evictedBytes: own.e1 + own.e3,
    });

    const summary = await c.apply(file);
    expect(summary).toMatchObject({ deleted: 2, failed: 0, skipped: 0, bytesEstimated: own.e1 + own.e3 });
    const left = (await p.docker.listImages({ all: true }))
      .map((i) => (i.Id.startsWith('sha256:') ? i.Id : `sha256:${i.Id}`))
      .sort();
    expect(left).toEqual(sorted([ids.keep, ids.e2]));
  });
});
