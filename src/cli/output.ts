import { rename, writeFile, open, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { UsageError } from '../errors.js';

/** Writes a file atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, text, { mode });
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new UsageError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function parseFormat<T extends string>(text: string | undefined, allowed: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`--format: "${text}" is not one of ${allowed.join(', ')}`);
  return text as T;
}
