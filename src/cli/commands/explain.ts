import type { CliIo } from '../io.js';

export function explainCommand(_args: string[], io: CliIo): Promise<number> {
  io.stderr.write('imgsweep explain: not available yet in this version; see README.md for what works today\n');
  return Promise.resolve(1);
}
