import type { CliIo } from '../io.js';

export function planCommand(_args: string[], io: CliIo): Promise<number> {
  io.stderr.write('imgsweep plan: not available yet in this version; see README.md for what works today\n');
  return Promise.resolve(1);
}
