import { hostname } from 'node:os';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PlanRefused, UsageError } from '../errors.js';

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface Lock {
  path: string;
  release(): Promise<void>;
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
 * One run per engine: an exclusive lock file `<stateDir>/<engineKey>.lock`. A lock whose holder process
 * is gone (on this host) is taken over at once; a live holder makes this run refuse (exit 3).
 */
export async function acquireLock(stateDir: string, engineKey: string, command: string): Promise<Lock> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError(`cannot create the state directory ${stateDir}: ${(err as Error).message} (choose another with --state-dir)`, { cause: err });
  }
  const path = join(stateDir, `${engineKey}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.close();
      return { path, release: () => release(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    // A lock being created right now may still be empty: look twice before calling it unreadable.
    const holder = (await readHolder(path)) ?? (await new Promise((r) => setTimeout(r, 200)).then(() => readHolder(path)));
    // Our own pid in the file can only be a leftover of an earlier process that had this pid: stale.
    if (holder && holder.pid !== process.pid && (holder.host !== me.host || alive(holder.pid))) {
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
