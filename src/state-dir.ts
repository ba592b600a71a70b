import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from './errors.js';

/** --state-dir, else /var/lib/imgsweep as root, else the XDG state directory. */
export function defaultStateDir(
  env: NodeJS.ProcessEnv,
  uid: number | null = typeof process.getuid === 'function' ? process.getuid() : null,
): string {
  if (uid === 0) return '/var/lib/imgsweep';
  const base =
    env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/')
      ? env.XDG_STATE_HOME
      : join(env.HOME ?? homedir(), '.local', 'state');
  return join(base, 'imgsweep');
}

/**
 * Refuses a state folder another user could write to: a usage record planted there would make fresh images look
 * long unused, and a planted lock would stop every run. Refused: a folder of another user, one every user may
 * write to, and, as root, one its group may write to. A folder not made yet is fine (it is made 0700).
 */
export async function checkStateDir(
  dir: string,
  uid: number | null = typeof process.getuid === 'function' ? process.getuid() : null,
): Promise<void> {
  if (uid === null) return;
  let s;
  try {
    s = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new InputError(`cannot read the state folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const fix = 'or choose another with --state-dir';
  if (!s.isDirectory()) return; // not usable at all: reading and saving in it fail and say so
  if (s.uid !== uid)
    throw new InputError(
      `the state folder ${dir} belongs to uid ${s.uid}, not to this user (uid ${uid}): it could hold a usage record or lock planted by another user; chown it ${fix}`,
    );
  const writers = s.mode & 0o002 ? 'every user' : uid === 0 && s.mode & 0o020 ? 'its group' : null;
  if (writers !== null)
    throw new InputError(
      `the state folder ${dir} is writable by ${writers} (mode ${(s.mode & 0o7777).toString(8)}): another user could plant a usage record or a lock in it; chmod go-w it ${fix}`,
    );
}
