import type { CliIo } from '../io.js';

export function inventoryCommand(_args: string[], io: CliIo): Promise<number> {
  io.stderr.write('imgsweep inventory: not available yet in this version; see README.md for what works today\n');
  return Promise.resolve(1);
}
