import { homedir } from 'node:os';
import { join } from 'node:path';

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
