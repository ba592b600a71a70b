import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile, readdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlanRefused, UsageError } from '../../src/errors.js';
import { acquireLock, STALE_AFTER_MS } from '../../src/execute/lock.js';

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

const lockPath = () => join(dir, `${KEY}.lock`);
const holder = (pid: number, host = hostname()) => `${JSON.stringify({ pid, host, startedAt: '2026-11-27T11:00:00.000Z', command: 'imgsweep apply -p other.yaml --yes' })}\n`;

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
  it('writes who holds it, and release removes it', async () => {
    const lock = await acquireLock(dir, KEY, 'imgsweep apply --yes');
    expect(lock.path).toBe(lockPath());
    const held = JSON.parse(await readFile(lock.path, 'utf8')) as Record<string, unknown>;
    expect(held).toMatchObject({ pid: process.pid, host: hostname(), command: 'imgsweep apply --yes' });
    expect(Number.isNaN(Date.parse(String(held.startedAt)))).toBe(false);
    expect((await stat(lock.path)).mode & 0o777).toBe(0o600);
    await lock.release();
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('can be taken again after release', async () => {
    await (await acquireLock(dir, KEY, 'first')).release();
    const again = await acquireLock(dir, KEY, 'second');
    expect(JSON.parse(await readFile(again.path, 'utf8'))).toMatchObject({ command: 'second' });
    await again.release();
  });

  it('creates a missing state directory, private to its owner', async () => {
    const nested = join(dir, 'a', 'b');
    const lock = await acquireLock(nested, KEY, 'x');
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    await lock.release();
  });

  it('a state directory that cannot be created is a usage error (exit 2)', async () => {
    await writeFile(join(dir, 'file'), '');
    const err = await acquireLock(join(dir, 'file', 'sub'), KEY, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/--state-dir/);
  });

  it('locks per engine: another engine key is independent', async () => {
    const a = await acquireLock(dir, KEY, 'a');
    const b = await acquireLock(dir, 'fedcba9876543210', 'b');
    expect(a.path).not.toBe(b.path);
    await a.release();
    await b.release();
  });

  it('a live holder on this host: refused (exit 3), naming its pid, and its lock is left alone', async () => {
    const other = liveChild();
    await writeFile(lockPath(), holder(other.pid!));
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain(`pid ${other.pid}`);
    expect(err.message).toContain(hostname());
    expect(err.message).toContain('imgsweep apply -p other.yaml --yes');
    expect(await readFile(lockPath(), 'utf8')).toBe(holder(other.pid!));
  });

  it('the parent process as holder: refused', async () => {
    await writeFile(lockPath(), holder(process.ppid));
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain(`pid ${process.ppid}`);
  });

  it('a holder on another host cannot be checked: refused even if no such pid lives here', async () => {
    await writeFile(lockPath(), holder(await deadPid(), 'another-host.example'));
    const err = await refusal(acquireLock(dir, KEY, 'mine'));
    expect(err.message).toContain('another-host.example');
  });

  it('a holder in another PID space (another container) counts as gone once its heartbeat stops', async () => {
    const other = (pid: number) => `${JSON.stringify({ pid, host: 'c0ffee', pidSpace: 'other-boot/pid:[1]', startedAt: '2026-11-27T11:00:00.000Z', command: 'imgsweep apply' })}\n`;
    await writeFile(lockPath(), other(1));
    await refusal(acquireLock(dir, KEY, 'mine'));
    const old = new Date(Date.now() - STALE_AFTER_MS - 1_000);
    await utimes(lockPath(), old, old);
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('a stale lock (its holder exited) is taken over at once', async () => {
    const pid = await deadPid();
    await writeFile(lockPath(), holder(pid));
    const t0 = Date.now();
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, command: 'mine' });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['garbage', 'not json at all'],
    ['empty', ''],
    ['JSON without a pid', '{"host":"h"}\n'],
    ['a pid that is not a number', '{"pid":"123","host":"h"}\n'],
  ])('an unreadable lock file (%s) is taken over', async (_, content) => {
    await writeFile(lockPath(), content);
    const lock = await acquireLock(dir, KEY, 'mine');
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('release leaves alone a lock that someone else holds by then', async () => {
    const lock = await acquireLock(dir, KEY, 'mine');
    const other = liveChild();
    await writeFile(lockPath(), holder(other.pid!));
    await lock.release();
    expect(await readFile(lockPath(), 'utf8')).toBe(holder(other.pid!));
  });

  it('release when the lock file is already gone does not throw', async () => {
    const lock = await acquireLock(dir, KEY, 'mine');
    await rm(lock.path);
    await expect(lock.release()).resolves.toBeUndefined();
  });
});
