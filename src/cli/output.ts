import { writeFileAtomic as write } from '../atomic-write.js';
import { IoError, UsageError } from '../errors.js';

/** Writes an output file atomically; a failure is a fault of the run (exit 1), not of its input. */
export async function writeFileAtomic(path: string, text: string | Iterable<string>, mode = 0o644): Promise<void> {
  try {
    await write(path, text, mode);
  } catch (err) {
    throw new IoError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function parseFormat<T extends string>(text: string | undefined, allowed: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text))
    throw new UsageError(`--format: "${text}" is not one of ${allowed.join(', ')}`);
  return text as T;
}
