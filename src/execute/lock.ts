import { checkStateDir } from '../state-dir.js';
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { link, mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImgsweepError, IoError, PlanRefused } from '../errors.js';

interface Holder {
  pid: number;
  host: string;
  /** Which process-ID space `pid` belongs to (boot and PID namespace): only there can we ask whether it lives. */
  pidSpace?: string;
  /** When `pid` started (clock ticks since boot): tells the holder from a later process given the same pid. */
  pidStart?: string;
  startedAt: string;
  command: string;
}

/** A holder in another PID space (another container, another machine sharing the state dir) proves it is
 * alive by touching its lock file; one that has not for this long is gone. */
export const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_MS = 6 * HEARTBEAT_MS;
const ATTEMPTS = 5;

export interface Lock {
  /** The file that names this run as the holder. */
  path: string;
  release(): Promise<void>;
}

/**
 * One run per engine. Each run that takes the lock creates the next epoch, `<engineKey>.<n>.lock`, naming
 * itself; release renames it to `<engineKey>.<n>.done`. Only the newest epoch counts: a run creates epoch
 * n + 1 once epoch n is done or its holder is gone, and creating a file is exclusive, so one run gets it.
 * A holder gone in our PID space is gone at once; elsewhere, once its heartbeat stops. A live holder makes
 * this run refuse (exit 3). The single `<engineKey>.lock` of earlier versions counts as one more holder.
 */
export async function acquireLock(stateDir: string, engineKey: string, command: string): Promise<Lock> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new IoError(
      `cannot create the state directory ${stateDir}: ${(err as Error).message} (choose another with --state-dir)`,
      { cause: err },
    );
  }
  await checkStateDir(stateDir);
  try {
    return await takeNextEpoch(stateDir, engineKey, command);
  } catch (err) {
    if (err instanceof ImgsweepError) throw err;
    throw new IoError(`cannot create the lock in ${stateDir}: ${(err as Error).message}`, { cause: err });
  }
}

async function takeNextEpoch(stateDir: string, engineKey: string, command: string): Promise<Lock> {
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    pidSpace: pidSpace(),
    pidStart: startOf(process.pid),
    startedAt: new Date().toISOString(),
    command,
  };
  const file = (n: number, state: 'lock' | 'done') => join(stateDir, `${engineKey}.${n}.${state}`);
  const legacy = join(stateDir, `${engineKey}.lock`);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const newest = await scan(stateDir, engineKey);
    await refuseIfHeld(legacy, me);
    if (newest.n > 0 && !newest.done) await refuseIfHeld(file(newest.n, 'lock'), me);
    const mine = newest.n + 1;
    const path = file(mine, 'lock');
    if (!(await createExclusive(path, `${JSON.stringify(me)}\n`, join(stateDir, `.${engineKey}.${randomUUID()}.tmp`))))
      continue;
    // A run that judged an old epoch may create its successor late, after that number was used and removed.
    // The newest epoch is never removed (only older ones, by its holder), so this shows: ours must be newest.
    const after = await scan(stateDir, engineKey);
    if (after.n !== mine || after.done) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    await Promise.all([...after.older, legacy].map((p) => unlink(p).catch(() => undefined)));
    const heartbeat = setInterval(() => {
      const t = new Date();
      utimes(path, t, t).catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    return {
      path,
      release: async () => {
        clearInterval(heartbeat);
        await rename(path, file(mine, 'done')).catch(() => undefined);
      },
    };
  }
  throw new PlanRefused(`could not take the lock in ${stateDir}: other runs keep taking it`);
}

/** The newest epoch (0 when there is none), whether it is done, and the files of older epochs. One listing
 * is one snapshot of a directory of a few files on a local file system. */
async function scan(stateDir: string, engineKey: string): Promise<{ n: number; done: boolean; older: string[] }> {
  const epochs: { path: string; n: number; done: boolean }[] = [];
  for (const name of await readdir(stateDir)) {
    const m = name.startsWith(`${engineKey}.`) ? /^(\d+)\.(lock|done)$/.exec(name.slice(engineKey.length + 1)) : null;
    if (m) epochs.push({ path: join(stateDir, name), n: Number(m[1]), done: m[2] === 'done' });
  }
  const n = Math.max(0, ...epochs.map((e) => e.n));
  return { n, done: epochs.some((e) => e.n === n && e.done), older: epochs.filter((e) => e.n < n).map((e) => e.path) };
}

/** Creates `path` holding `text` unless it exists. Readers never see it half-written: written aside, then linked. */
async function createExclusive(path: string, text: string, aside: string): Promise<boolean> {
  await writeFile(aside, text, { flag: 'wx', mode: 0o600 });
  try {
    await link(aside, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

async function refuseIfHeld(path: string, me: Holder): Promise<void> {
  const holder = await readHolder(path);
  if (holder && (await holderAlive(path, holder, me))) {
    throw new PlanRefused(
      `another run holds the lock ${path}: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt} (${holder.command})`,
    );
  }
}

/** The holder a lock file names; null when it is gone or unreadable (not ours to respect). */
async function readHolder(path: string): Promise<Holder | null> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? (h as Holder) : null;
  } catch {
    return null;
  }
}

async function holderAlive(path: string, h: Holder, me: Holder): Promise<boolean> {
  const here = h.pidSpace === undefined ? h.host === me.host : h.pidSpace === me.pidSpace;
  if (!here) {
    // Its PID means nothing here: trust its heartbeat.
    const touched = await stat(path).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    return Date.now() - touched < STALE_AFTER_MS;
  }
  const start = startOf(h.pid);
  if (start === '') return false;
  if (h.pidStart !== undefined && start !== undefined) return start === h.pidStart;
  // Without start times, our own pid can only be a leftover of an earlier process that had it.
  return h.pid !== me.pid && exists(h.pid);
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When `pid` started, from /proc; '' when it has exited but is not reaped yet; undefined when /proc cannot tell. */
function startOf(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (name) ": the state, then 18 more fields up to the start time.
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? '' : fields[19];
  } catch {
    return undefined;
  }
}

function pidSpace(): string {
  const read = (f: () => string) => {
    try {
      return f().trim();
    } catch {
      return '?';
    }
  };
  return `${read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'))}/${read(() => readlinkSync('/proc/self/ns/pid'))}`;
}
