import type { CliIo } from '../io.js';

export function applyCommand(_args: string[], io: CliIo): Promise<number> {
  io.stderr.write('imgsweep apply: not available yet in this version; see README.md for what works today\n');
  return Promise.resolve(1);
}
