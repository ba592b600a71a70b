/**
 * `imgsweep watch` as a real process against a real dockerd (and, at the end, a Podman service): it follows the event stream, records each use as
 * it happens (so `docker run --rm` between two cron runs counts), flushes on a timer and on SIGTERM/SIGINT,
 * reconnects when the engine restarts, and never deletes anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import type { UsageRecord } from '../../src/usage/store.js';
import { runCli } from '../support/cli.js';
import { DOCKERD_NOT_FOUND, engineTestsSkipped, getOnSocket } from '../support/dockerd.js';
import { importBusybox } from '../support/fixtures.js';
import { importBusyboxPodman, runPodmanContainer, startPodman, type TestPodman } from '../support/podman.js';
import {
  exited,
  killGroup,
  mountsUnder,
  runCommand,
  stopChild,
  tailFile,
  waitFor,
  which,
  type CommandResult,
} from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A dockerd on a folder this file keeps, so that it can be stopped and started again on the same data root and
 * socket (test/support/dockerd.ts removes its folder on stop). Same flags as the shared harness.
 */
class RestartableDockerd {
  readonly socketPath: string;
  readonly host: string;
  readonly docker: Docker;
  private child: ChildProcess | null = null;

  constructor(readonly dir: string) {
    this.socketPath = join(dir, 'docker.sock');
    this.host = `unix://${this.socketPath}`;
    this.docker = new Docker({
      socketPath: this.socketPath,
      host: undefined,
      protocol: 'http',
      version: 'v1.41',
      timeout: 120_000,
    });
  }

  private async ping(): Promise<boolean> {
    return (await getOnSocket(this.socketPath, '/_ping'))?.status === 200;
  }

  async start(): Promise<void> {
    const bin = which('dockerd');
    if (bin === null) throw new Error(DOCKERD_NOT_FOUND);
    const logPath = join(this.dir, 'dockerd.log');
    const log = openSync(logPath, 'a');
    const { dir } = this;
    const child = spawn(
      bin,
      [
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '--pidfile',
        join(dir, 'docker.pid'),
        '--host',
        this.host,
        '--storage-driver=vfs',
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child = child;
    const ready = await waitFor(() => this.ping(), { timeoutMs: 30_000, stopEarly: () => exited(child) });
    if (!ready) throw new Error(`dockerd did not come up; log tail:\n${tailFile(logPath, 30)}`);
  }

  /** Stops the daemon (and the containerd it started); the folder stays for a restart. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await stopChild(child, 15_000);
    killGroup(child, 'SIGKILL');
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // nothing left in its group
    }
    this.child = null;
  }

  async destroy(): Promise<void> {
    await this.stop();
    for (const point of mountsUnder(this.dir)) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
    await rm(this.dir, { recursive: true, force: true });
  }

  async cli(args: string[]): Promise<CommandResult> {
    const cli = which('docker');
    if (cli === null) throw new Error("docker CLI not found: install Debian's docker.io");
    await mkdir(join(this.dir, 'cli-config'), { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DOCKER_HOST: this.host,
      DOCKER_CONFIG: join(this.dir, 'cli-config'),
    };
    delete env.DOCKER_CONTEXT;
    return runCommand(cli, args, { env });
  }
}

interface WatchProcess {
  child: ChildProcess;
  log: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `imgsweep watch` as its own process (bin/imgsweep.js), its stdout and stderr collected in one log. */
function spawnWatch(host: string, state: string, flush: string): WatchProcess {
  const child = spawn(
    process.execPath,
    ['bin/imgsweep.js', 'watch', '--host', host, '--state-dir', state, '--flush-interval', flush],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, log: () => log, exit };
}

describe.skipIf(engineTestsSkipped())('imgsweep watch against a real dockerd', () => {
  let d: RestartableDockerd;
  let state: string;
  let key: string;
  const ids = {} as { first: string; second: string; third: string };
  const watches: WatchProcess[] = [];

  const startWatch = (flush: string): WatchProcess => {
    const w = spawnWatch(d.host, state, flush);
    watches.push(w);
    return w;
  };
  const until = async (
    what: string,
    check: () => Promise<boolean> | boolean,
    w: WatchProcess | null,
    timeoutMs = 15_000,
  ) => {
    const ok = await waitFor(async () => check(), { timeoutMs, intervalMs: 100 });
    if (!ok)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${w ? `; watch log:\n${w.log()}` : ''}`);
  };
  const recordPath = () => join(state, `usage-${key}.json`);
  const readRecord = async (): Promise<UsageRecord | null> => {
    try {
      return JSON.parse(await readFile(recordPath(), 'utf8')) as UsageRecord;
    } catch {
      return null;
    }
  };
  const lastUsed = async (id: string) => {
    const entry = (await readRecord())?.images[id];
    return entry ? Date.parse(entry.lastUsed) : null;
  };
  const runRm = async (image: string) => {
    const r = await d.cli(['run', '--rm', '--network', 'none', image, '/bin/busybox', 'true']);
    expect(r.code, r.stderr).toBe(0);
  };
  const imagesNow = async () => (await d.docker.listImages({ all: true })).map((i) => i.Id).sort();

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
      const built = await runCommand('npm', ['run', 'build'], { timeoutMs: 170_000 });
      if (built.code !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
    }
    // Short path: unix socket paths are limited to ~108 bytes.
    d = new RestartableDockerd(await mkdtemp('/tmp/isw-'));
    await d.start();
    state = join(d.dir, 'state');
    ids.first = await importBusybox(d.docker, 'isw/watch-a:1');
    ids.second = await importBusybox(d.docker, 'isw/watch-b:1');
    ids.third = await importBusybox(d.docker, 'isw/watch-c:1');
    // A cron run before the watch starts: every image is first seen (and used) now.
    const inv = await runCli(['inventory', '--format', 'json', '--host', d.host, '--state-dir', state]);
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
    const plan = await runCli([
      'plan',
      '-p',
      join(ROOT, 'policies/dangling-only.yaml'),
      '--host',
      d.host,
      '--state-dir',
      state,
      '--format',
      'json',
    ]);
    expect(plan).toMatchObject({ code: 0, stderr: '' });
    expect(Object.keys((await readRecord())!.images).sort()).toEqual(Object.values(ids).sort());
    // So that a use recorded by the watch is later than first-seen.
    await new Promise((r) => setTimeout(r, 1_100));
  });

  afterAll(async () => {
    for (const w of watches) if (!exited(w.child)) w.child.kill('SIGKILL');
    await d?.destroy();
  });

  describe('one watch process, flushing every second', () => {
    let w: WatchProcess;
    let before: string[];

    it('follows the events and records a `docker run --rm` as it happens, within a flush interval', async () => {
      before = await imagesNow();
      const firstSeen = (await lastUsed(ids.first))!;
      w = startWatch('1s');
      await until('the watch to follow events', () => /following container events/.test(w.log()), w);
      const t0 = Date.now();
      await runRm('isw/watch-a:1');
      const t1 = Date.now();
      await until(
        'the run of isw/watch-a:1 in the record',
        async () => ((await lastUsed(ids.first)) ?? 0) > firstSeen,
        w,
        5_000,
      );
      const flushedBy = Date.now();
      const used = (await lastUsed(ids.first))!;
      expect(used).toBeGreaterThanOrEqual(t0 - 1_000);
      expect(used).toBeLessThanOrEqual(t1 + 1_000);
      // From the event, or, when a flush fell while the container still existed (a loaded machine's `docker run`
      // takes longer than the 1 s interval), from the listing that saw it: both are this run, at its time.
      expect((await readRecord())!.images[ids.first]!.source).toMatch(/event|container \S+ (is running|exists)/);
      // At most one flush interval (1 s) after the run, plus the time to list the engine.
      expect(flushedBy - t1).toBeLessThan(3_000);
      // Nothing else was used.
      expect((await lastUsed(ids.second))!).toBeLessThan(t0);
      expect((await stat(recordPath())).mode & 0o777).toBe(0o600);
    });

    it('flushes at most once per interval, however many events come', async () => {
      for (let i = 0; i < 4; i++) await runRm('isw/watch-a:1');
      await new Promise((r) => setTimeout(r, 1_500));
      // Checked on the summary when it stops (below): flushes stay well under events.
      expect(exited(w.child)).toBe(false);
    });

    it('reconnects with backoff when the engine restarts, and records a run after it', async () => {
      const followed = (w.log().match(/following container events/g) ?? []).length;
      await d.stop();
      // Down long enough for a second attempt: the delay between attempts grows (1 s, then 2 s, ...).
      await until(
        'the watch to retry with a longer delay',
        () => /reconnecting in 1 s[\s\S]*reconnecting in 2 s/.test(w.log()),
        w,
        20_000,
      );
      // Where to point imgsweep is said once; the retries say only what happened.
      expect(w.log().match(/check the address given with --host/g) ?? [], w.log()).toHaveLength(1);
      await d.start();
      await until(
        'the watch to follow events again',
        () => (w.log().match(/following container events/g) ?? []).length > followed,
        w,
        40_000,
      );
      expect(exited(w.child)).toBe(false);
      const t0 = Date.now();
      await runRm('isw/watch-b:1');
      const t1 = Date.now();
      await until(
        'the run of isw/watch-b:1 in the record',
        async () => ((await lastUsed(ids.second)) ?? 0) >= t0 - 1_000,
        w,
        5_000,
      );
      expect((await lastUsed(ids.second))!).toBeLessThanOrEqual(t1 + 1_000);
    });

    it('stops on SIGINT with exit 0 in a few seconds, having deleted nothing', async () => {
      const sent = Date.now();
      w.child.kill('SIGINT');
      const exit = await Promise.race([w.exit, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      expect(exit, w.log()).not.toBeNull();
      expect(exit!.code).toBe(0);
      expect(exit!.at - sent).toBeLessThan(5_000);
      const summary = /stopped after (\d+) events, (\d+) flushes/.exec(w.log());
      expect(summary, w.log()).not.toBeNull();
      const [events, flushes] = [Number(summary![1]), Number(summary![2])];
      // Six runs of about five events each, in a handful of flushes.
      expect(events).toBeGreaterThanOrEqual(12);
      expect(flushes).toBeGreaterThanOrEqual(2);
      expect(flushes).toBeLessThan(events / 2);
      expect(await imagesNow()).toEqual(before);
      expect((await readdir(state)).filter((f) => f.startsWith('.'))).toEqual([]);
    });
  });

  it('flushes what it has on SIGTERM (final flush) and exits 0', async () => {
    const w = startWatch('1h');
    await until('the watch to follow events', () => /following container events/.test(w.log()), w);
    const previous = (await lastUsed(ids.third))!;
    const t0 = Date.now();
    await runRm('isw/watch-c:1');
    // Let the events reach the watch; with a 1 h interval only the final flush can record them.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await lastUsed(ids.third)).toBe(previous);
    const sent = Date.now();
    w.child.kill('SIGTERM');
    const exit = await Promise.race([w.exit, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(exit, w.log()).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.at - sent).toBeLessThan(5_000);
    expect(w.log()).toMatch(/stopped after [1-9]\d* events, 1 flushes/);
    expect((await lastUsed(ids.third))!).toBeGreaterThanOrEqual(t0 - 1_000);
  });

  it('a later cron run keeps what the watch recorded', async () => {
    const record = (await readRecord())!;
    const plan = await runCli([
      'plan',
      '-p',
      join(ROOT, 'policies/dangling-only.yaml'),
      '--host',
      d.host,
      '--state-dir',
      state,
      '--format',
      'json',
    ]);
    expect(plan).toMatchObject({ code: 0, stderr: '' });
    const after = (await readRecord())!;
    for (const id of Object.values(ids)) {
      expect(after.images[id]!.firstSeen).toBe(record.images[id]!.firstSeen);
      expect(after.images[id]!.lastUsed).toBe(record.images[id]!.lastUsed);
    }
  });
});

// The same following, recording and stopping against Podman's compatible event stream.
describe.skipIf(engineTestsSkipped())('imgsweep watch against a Podman service', () => {
  let p: TestPodman;
  let state: string;
  let key: string;
  let image: string;
  let other: string;

  const recordOf = async (): Promise<UsageRecord | null> => {
    try {
      return JSON.parse(await readFile(join(state, `usage-${key}.json`), 'utf8')) as UsageRecord;
    } catch {
      return null;
    }
  };
  const lastUsed = async (id: string) => {
    const entry = (await recordOf())?.images[id];
    return entry ? Date.parse(entry.lastUsed) : null;
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js')))
      throw new Error('dist/ is missing: run `npm run build` before this test');
    p = await startPodman();
    state = join(p.dir, 'state');
    image = await importBusyboxPodman(p.docker, 'isw/pwatch-a:1');
    other = await importBusyboxPodman(p.docker, 'isw/pwatch-b:1');
    const inv = await runCli(['inventory', '--format', 'json', '--host', p.host, '--state-dir', state]);
    expect(inv).toMatchObject({ code: 0, stderr: '' });
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
    expect(Object.keys((await recordOf())!.images).sort()).toEqual([image, other].sort());
    await new Promise((r) => setTimeout(r, 1_100));
  });

  afterAll(async () => {
    await p?.stop();
  });

  it('records a container run from the event stream within a flush interval, and stops on SIGTERM with exit 0', async () => {
    const before = (await lastUsed(image))!;
    const { child, log, exit } = spawnWatch(p.host, state, '1s');
    try {
      expect(
        await waitFor(() => Promise.resolve(/following container events/.test(log())), {
          timeoutMs: 15_000,
          intervalMs: 100,
        }),
        log(),
      ).toBe(true);
      const t0 = Date.now();
      // As `podman run --rm`: only the event can tell the image was used.
      const container = await runPodmanContainer(p.docker, 'isw/pwatch-a:1', { running: false });
      await p.docker.getContainer(container).remove();
      const t1 = Date.now();
      const recorded = await waitFor(async () => ((await lastUsed(image)) ?? 0) > before, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      expect(recorded, `the run was not recorded; watch log:\n${log()}`).toBe(true);
      const used = (await lastUsed(image))!;
      expect(used).toBeGreaterThanOrEqual(t0 - 1_000);
      expect(used).toBeLessThanOrEqual(t1 + 2_000);
      // The event, or a flush's listing that saw the container before it went (a loaded machine); that the events
      // were followed is checked below (the count at SIGTERM).
      expect((await recordOf())!.images[image]!.source).toMatch(/event|container \S+ (is running|exists)/);
      expect((await lastUsed(other))!).toBeLessThan(t0);
      child.kill('SIGTERM');
      const done = await Promise.race([exit, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      expect(done?.code, log()).toBe(0);
      expect(log()).toMatch(/stopped after [1-9]\d* events/);
    } finally {
      if (!exited(child)) child.kill('SIGKILL');
    }
  });
});
