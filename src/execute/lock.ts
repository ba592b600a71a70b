import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { PlanRefused, UsageError } from '../errors.js';

interface Holder {
  pid: number;
  host: string;
  /** Which process-ID space `pid` belongs to (boot and PID namespace): only there can we ask whether it lives. */
  pidSpace?: string;
  startedAt: string;
  command: string;
}

/** A holder in another PID space (another container, another machine sharing the state dir) proves it is
 * alive by touching the lock; one that has not for this long is gone. */
export const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_MS = 6 * HEARTBEAT_MS;

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

export interface Lock {
  path: string;
  release(): Promise<void>;
}

/** Whether the holder of a lock file is still running. */
async function holderAlive(path: string, holder: Holder, me: Holder): Promise<boolean> {
  if (holder.pidSpace !== undefined && holder.pidSpace === me.pidSpace) return holder.pid !== me.pid && alive(holder.pid);
  if (holder.pidSpace === undefined && holder.host === me.host) return holder.pid !== me.pid && alive(holder.pid);
  // Its PID means nothing here: trust its heartbeat.
  const age = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => 0));
  return age < STALE_AFTER_MS;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<Holder | null> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? (h as Holder) : null;
  } catch {
    return null;
  }
}

/**
 * One run per engine: an exclusive lock file `<stateDir>/<engineKey>.lock`. A lock whose holder process is
 * gone is taken over at once when the holder ran in our PID space (same boot and PID namespace); a holder
 * elsewhere (another container sharing the state dir) is gone once its heartbeat stops. A live holder
 * makes this run refuse (exit 3).
 */
export async function acquireLock(stateDir: string, engineKey: string, command: string): Promise<Lock> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError(`cannot create the state directory ${stateDir}: ${(err as Error).message} (choose another with --state-dir)`, { cause: err });
  }
  const path = join(stateDir, `${engineKey}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), pidSpace: pidSpace(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.close();
      const heartbeat = setInterval(() => {
        const t = new Date();
        utimes(path, t, t).catch(() => undefined);
      }, HEARTBEAT_MS);
      heartbeat.unref();
      return {
        path,
        release: () => {
          clearInterval(heartbeat);
          return release(path);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    // A lock being created right now may still be empty: look twice before calling it unreadable.
    const holder = (await readHolder(path)) ?? (await new Promise((r) => setTimeout(r, 200)).then(() => readHolder(path)));
    // Our own pid in our own PID space can only be a leftover of an earlier process that had this pid: stale.
    if (holder && (await holderAlive(path, holder, me))) {
      throw new PlanRefused(`another run holds the lock ${path}: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt} (${holder.command})`);
    }
    // Stale (holder gone) or unreadable: move it aside atomically so two runs cannot both take it over.
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
      await unlink(aside);
    } catch {
      // Someone else took it over first; try again.
    }
  }
  throw new PlanRefused(`could not take the lock ${path}: other runs keep taking it`);
}

async function release(path: string): Promise<void> {
  const holder = await readHolder(path);
  if (holder?.pid === process.pid) await unlink(path).catch(() => undefined);
}
