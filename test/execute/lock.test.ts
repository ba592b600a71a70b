import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IoError, PlanRefused } from '../../src/errors.js';
import { acquireLock, STALE_AFTER_MS, type Lock } from '../../src/execute/lock.js';

// `link` is how a run creates its epoch: a test can hold a run back right before it.
vi.mock('node:fs/promises', async (actual) => {
  const fs = await actual<typeof import('node:fs/promises')>();
  return { ...fs, link: vi.fn(fs.link) };
});

const KEY = '0123456789abcdef';
let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-lock-'));
});
afterEach(async () => {
  // Only the children this file started, by their own pid.
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Epoch `n` of the lock: held (`.lock`) or released (`.done`). */
const epoch = (n: number, state: 'lock' | 'done' = 'lock') => join(dir, `${KEY}.${n}.${state}`);
/** The single lock file that earlier versions wrote. */
const legacyPath = () => join(dir, `${KEY}.lock`);
const holder = (pid: number, host = hostname(), more: object = {}) =>
  `${JSON.stringify({ pid, host, startedAt: '2026-11-27T11:00:00.000Z', command: 'imgsweep apply -p other.yaml --yes', ...more })}\n`;
const onLinux = existsSync('/proc/self/stat');

/** A live process that is not this one: a `sleep` child. */
function liveChild(): ChildProcess {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => c.once('exit', r));
  return c.pid!;
}

async function refusal(p: Promise<unknown>): Promise<PlanRefused> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlanRefused);
  expect((err as PlanRefused).exitCode).toBe(3);
  return err as PlanRefused;
}

describe('acquireLock', () => {
  it('writes who holds it as the next epoch, and release marks that epoch done', async () => {
    const lock = await acquireLock(dir, KEY, 'imgsweep apply --yes');
    expect(lock.path).toBe(epoch(1));
    const held = JSON.parse(await readFile(lock.path, 'utf8')) as Record<string, unknown>;
    expect(held).toMatchObject({ pid: process.pid, host: hostname(), command: 'imgsweep apply --yes' });
    expect(Number.isNaN(Date.parse(String(held.startedAt)))).toBe(false);
    expect((await stat(lock.path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([`${KEY}.1.lock`]);
    await lock.release();
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([`${KEY}.1.done`]);
  });

  it('can be taken again after release; older epochs are removed', async () => {
    await (await acquireLock(dir, KEY, 'first')).release();
    const again = await acquireLock(dir, KEY, 'second');
    expect(again.path).toBe(epoch(2));
    expect(JSON.parse(await readFile(again.path, 'utf8'))).toMatchObject({ command: 'second' });
    expect(await readdir(dir)).toEqual([`${KEY}.2.lock`]);
    await again.release();
    expect(await readdir(dir)).toEqual([`${KEY}.2.done`]);
  });

  it('creates a missing state directory, private to its owner', async () => {
    const nested = join(dir, 'a', 'b');
    const lock = await acquireLock(nested, KEY, 'x');
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    await lock.release();
  });

  it('a state directory that cannot be created is a runtime failure (exit 1), with what to do', async () => {
    await writeFile(join(dir, 'file'), '');
    const err = await acquireLock(join(dir, 'file', 'sub'), KEY, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/--state-dir/);
  });

  it('locks per engine: another engine key is independent', async () => {
    const a = await acquireLock(dir, KEY, 'a');
    const b = await acquireLock(dir, 'fedcba9876543210', 'b');
    expect(a.path).not.toBe(b.path);
    await a.release();
    await b.release();
  });

  it.each([
    ['the newest epoch', () => epoch(4)],
    ['the lock file of an earlier version', legacyPath],
  ])('a live holder on this host (%s): refused (exit 3), naming it, and its lock is left alone', async (_, path) => {
    const other = liveChild();
    await writeFile(epoch(3, 'done'), holder(1));
    await writeFile(path(), holder(other.pid!));
    const before = (await readdir(dir)).sort();
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain(`the lock ${path()}: pid ${other.pid}`);
    expect(err.message).toContain(hostname());
    expect(err.message).toContain('2026-11-27T11:00:00.000Z');
    expect(err.message).toContain('imgsweep apply -p other.yaml --yes');
    expect(await readFile(path(), 'utf8')).toBe(holder(other.pid!));
    expect((await readdir(dir)).sort()).toEqual(before);
  });

  it('the parent process as holder: refused', async () => {
    await writeFile(epoch(1), holder(process.ppid));
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain(`pid ${process.ppid}`);
  });

  it.runIf(onLinux)('this very process as holder (the same key taken twice): refused', async () => {
    const lock = await acquireLock(dir, KEY, 'first');
    const err = await refusal(acquireLock(dir, KEY, 'second'));
    expect(err.message).toContain(`pid ${process.pid}`);
    await lock.release();
  });

  it.runIf(onLinux)(
    "a live process that only reuses the holder's pid (it started at another time) is not the holder",
    async () => {
      const other = liveChild();
      await writeFile(epoch(1), holder(other.pid!, hostname(), { pidStart: '1' }));
      const lock = await acquireLock(dir, KEY, 'mine');
      expect(lock.path).toBe(epoch(2));
      await lock.release();
    },
  );

  it('a holder on another host cannot be checked: refused even if no such pid lives here', async () => {
    await writeFile(epoch(1), holder(await deadPid(), 'another-host.example'));
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain('another-host.example');
  });

  it('a holder in another PID space (another container) counts as gone once its heartbeat stops', async () => {
    await writeFile(epoch(1), holder(1, 'c0ffee', { pidSpace: 'other-boot/pid:[1]' }));
    await refusal(acquireLock(dir, KEY, 'mine'));
    const old = new Date(Date.now() - STALE_AFTER_MS - 1_000);
    await utimes(epoch(1), old, old);
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(lock.path).toBe(epoch(2));
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it.each([
    ['the newest epoch', () => epoch(1)],
    ['the lock file of an earlier version', legacyPath],
  ])('a stale lock (%s, its holder exited) is taken over at once', async (_, path) => {
    await writeFile(path(), holder(await deadPid()));
    const t0 = Date.now();
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, command: 'mine' });
    await lock.release();
    expect(await readdir(dir)).toEqual([path === legacyPath ? `${KEY}.1.done` : `${KEY}.2.done`]);
  });

  it('a released newest epoch is free, whoever it names', async () => {
    await writeFile(epoch(7, 'done'), holder(liveChild().pid!));
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(lock.path).toBe(epoch(8));
    await lock.release();
  });

  it.each([
    ['garbage', 'not json at all'],
    ['empty', ''],
    ['JSON without a pid', '{"host":"h"}\n'],
    ['a pid that is not a number', '{"pid":"123","host":"h"}\n'],
  ])(
    'an unreadable lock file (%s) is taken over, as the newest epoch or from an earlier version',
    async (_, content) => {
      await writeFile(epoch(1), content);
      await writeFile(legacyPath(), content);
      const lock = await acquireLock(dir, KEY, 'mine');
      expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
      await lock.release();
      expect(await readdir(dir)).toEqual([`${KEY}.2.done`]);
    },
  );

  it('release leaves alone a lock that someone else holds by then', async () => {
    const lock = await acquireLock(dir, KEY, 'mine');
    const other = liveChild();
    await writeFile(epoch(2), holder(other.pid!));
    await lock.release();
    expect(await readFile(epoch(2), 'utf8')).toBe(holder(other.pid!));
    await refusal(acquireLock(dir, KEY, 'third'));
  });

  it('release when the lock file is already gone does not throw', async () => {
    const lock = await acquireLock(dir, KEY, 'mine');
    await rm(lock.path);
    await expect(lock.release()).resolves.toBeUndefined();
  });

  it.runIf(onLinux)('a run that judged an old epoch and creates the next one late does not get the lock', async () => {
    await writeFile(epoch(1), holder(await deadPid()));
    let third: Lock | undefined;
    vi.mocked(link).mockImplementationOnce(async (from, to) => {
      // Meanwhile another run takes epoch 2 and releases it, and a third run takes epoch 3 (removing 1 and 2).
      await (await acquireLock(dir, KEY, 'second')).release();
      third = await acquireLock(dir, KEY, 'third');
      const fs = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
      return fs.link(from, to);
    });
    const err = await refusal(acquireLock(dir, KEY, 'late'));
    expect(err.message).toContain(`the lock ${epoch(3)}`);
    expect(await readdir(dir)).toEqual([`${KEY}.3.lock`]);
    await third!.release();
  });

  it('calls racing in one process for a stale lock: one gets it, the others are refused', async () => {
    await writeFile(epoch(1), holder(await deadPid()));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => acquireLock(dir, KEY, `racer ${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PlanRefused);
    await won[0]!.value.release();
  });
});

// Real processes racing: the only way to race the file system as separate runs do.
describe('acquireLock raced by separate processes', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const LOCK_SOURCE = join(ROOT, 'src', 'execute', 'lock.ts');
  const RACERS = 8;
  /** Round r races for a free lock when r % 3 === 0 (round 0: none yet), else for a lock its holder left when killed:
   * 25 rounds for a free lock, 50 for a stale one. */
  const ROUNDS = 75;

  /** Takes the lock when told, marks the round as held with an exclusive file, keeps it until told to release. */
  const RACER = `
    import { closeSync, openSync } from 'node:fs';
    import { join } from 'node:path';
    import { acquireLock } from ${JSON.stringify(LOCK_SOURCE)};
    const [stateDir, marks, key] = process.argv.slice(2);
    let lock;
    process.on('disconnect', () => process.exit(0));
    process.on('message', (m) => void (m === 'release' ? release() : race(m.round, m.at)));
    process.send('ready');
    async function race(round, at) {
      await new Promise((r) => setTimeout(r, at - Date.now()));
      try {
        lock = await acquireLock(stateDir, key, 'racer');
      } catch (err) {
        process.send({ held: false, exitCode: err.exitCode ?? null, message: String(err) });
        return;
      }
      let overlap = false;
      try {
        closeSync(openSync(join(marks, String(round)), 'wx'));
      } catch {
        overlap = true;
      }
      process.send({ held: true, overlap });
    }
    async function release() {
      await lock.release();
      process.send('released');
    }
  `;

  interface Reply {
    held?: boolean;
    overlap?: boolean;
    exitCode?: number | null;
    message?: string;
  }
  interface Racer {
    child: ChildProcess;
    next(): Promise<unknown>;
  }

  async function startRacer(bundle: string, stateDir: string, marks: string): Promise<Racer> {
    // TMPDIR: whatever a child might write there goes into this test's directory.
    const child = spawn(process.execPath, [bundle, stateDir, marks, KEY], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, TMPDIR: dir },
    });
    children.push(child);
    const queue: unknown[] = [];
    let waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void } | undefined;
    child.on('message', (m) => {
      if (waiting) waiting.resolve(m);
      else queue.push(m);
      waiting = undefined;
    });
    child.on('exit', (code, signal) => waiting?.reject(new Error(`racer ${child.pid} exited (${code ?? signal})`)));
    const next = () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => (waiting = { resolve, reject }));
    expect(await next()).toBe('ready');
    return { child, next };
  }

  it(
    `${RACERS} processes, ${ROUNDS} rounds for a free lock or one its killed holder left: exactly one holds it each round`,
    { timeout: 120_000 },
    async () => {
      // The children run the TypeScript source, bundled once here: a TypeScript loader per child would cost
      // more than the rounds themselves.
      const bundle = join(dir, 'racer.mjs');
      const stateDir = join(dir, 'state');
      const marks = join(dir, 'marks');
      await build({
        stdin: { contents: RACER, loader: 'ts', resolveDir: ROOT },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: bundle,
        logLevel: 'silent',
      });
      await mkdir(marks);
      const start = () => {
        const racer = startRacer(bundle, stateDir, marks);
        racer.catch(() => undefined); // a spare still starting when the test ends is killed: not an error
        return racer;
      };
      const racers = await Promise.all(Array.from({ length: RACERS }, start));
      // Replacements for killed holders start ahead, while rounds run.
      const spares = Array.from({ length: 4 }, start);
      const wrong: { round: number; stale: boolean; holders: number; overlap: boolean; others: string[] }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const at = Date.now() + 20;
        for (const r of racers) r.child.send({ round, at });
        // Whoever got the lock keeps it until every racer has answered, so two holders would both count.
        const replies = (await Promise.all(racers.map((r) => r.next()))) as Reply[];
        const holders = racers.filter((_, i) => replies[i]!.held);
        const others = replies.filter((r) => !r.held && r.exitCode !== 3).map((r) => r.message ?? '?');
        if (holders.length !== 1 || replies.some((r) => r.overlap) || others.length > 0) {
          wrong.push({
            round,
            stale: round % 3 !== 0,
            holders: holders.length,
            overlap: replies.some((r) => r.overlap),
            others,
          });
        }
        if ((round + 1) % 3 === 0) {
          for (const h of holders) h.child.send('release');
          for (const h of holders) expect(await h.next()).toBe('released');
        } else {
          // Killed while holding it: the next round finds a stale lock.
          for (const h of holders) {
            const exited = new Promise((r) => h.child.once('exit', r));
            h.child.kill('SIGKILL');
            await exited;
            racers[racers.indexOf(h)] = await spares.shift()!;
            spares.push(start());
          }
        }
      }
      expect(wrong).toEqual([]);
    },
  );
});
