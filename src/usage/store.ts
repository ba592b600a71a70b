import { constants } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { checkStateDir } from '../state-dir.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import type { UsageEntry } from '../inventory/types.js';
import type { UsageMap } from './fold.js';

export interface UsageRecord {
  kind: 'imgsweep-usage';
  version: 1;
  engine: string;
  updatedAt: string;
  /** Engine events have been read up to here. */
  eventsUntil: string | null;
  images: UsageMap;
}

export function usagePath(stateDir: string, engineKey: string): string {
  return join(stateDir, `usage-${engineKey}.json`);
}

export function emptyUsage(engineKey: string): UsageRecord {
  return {
    kind: 'imgsweep-usage',
    version: 1,
    engine: engineKey,
    updatedAt: new Date(0).toISOString(),
    eventsUntil: null,
    images: {},
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function validEntry(e: unknown): e is UsageEntry {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<string, unknown>;
  return (
    typeof x.firstSeen === 'string' &&
    ISO.test(x.firstSeen) &&
    typeof x.lastUsed === 'string' &&
    ISO.test(x.lastUsed) &&
    (x.source === undefined || typeof x.source === 'string')
  );
}

/** Why a parsed file cannot be trusted, or null. */
function problem(value: unknown, engineKey: string): string | null {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const v = value as Partial<UsageRecord>;
  if (v.kind !== 'imgsweep-usage') return 'not a usage record';
  if (v.version !== 1) return `version ${String(v.version)} is not one this imgsweep reads`;
  if (v.engine !== engineKey) return `it belongs to engine ${String(v.engine)}`;
  if (typeof v.images !== 'object' || v.images === null) return 'no images map';
  if (v.eventsUntil !== null && (typeof v.eventsUntil !== 'string' || !ISO.test(v.eventsUntil)))
    return 'bad eventsUntil';
  for (const [id, e] of Object.entries(v.images))
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) return 'a key that is not an image ID';
    else if (!validEntry(e)) return `bad entry for ${id}`;
  return null;
}

/**
 * Loads the engine's usage record. A damaged or foreign file is renamed aside (never trusted blindly) and a
 * fresh record starts; `warn` says so.
 */
export async function loadUsage(
  stateDir: string,
  engineKey: string,
  warn: (message: string) => void,
  now = Date.now(),
): Promise<UsageRecord> {
  const path = usagePath(stateDir, engineKey);
  await checkStateDir(stateDir);
  let text: string | null;
  try {
    text = await readOwnFile(path);
  } catch (err) {
    if (err instanceof InputError) throw err;
    warn(`cannot read the usage record ${path}: ${(err as Error).message}; using a fresh one for this run`);
    return emptyUsage(engineKey);
  }
  if (text === null) return emptyUsage(engineKey);
  let why: string | null;
  let value: unknown = null;
  try {
    value = JSON.parse(text);
    why = problem(value, engineKey);
  } catch {
    // Not the parser's message: it quotes the file's first bytes, whatever file that is.
    why = 'not JSON';
  }
  if (why === null) return value as UsageRecord;
  const aside = `${path}.damaged-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  await rename(path, aside).catch(() => undefined);
  warn(`the usage record ${path} was set aside as ${aside}: ${why}; last-used times start afresh`);
  return emptyUsage(engineKey);
}

export async function saveUsage(stateDir: string, record: UsageRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const images: UsageMap = {};
  for (const id of Object.keys(record.images).sort()) images[id] = record.images[id]!;
  await writeFileAtomic(usagePath(stateDir, record.engine), `${JSON.stringify({ ...record, images })}\n`, 0o600);
}

/**
 * The usage record's text, or null when there is none. Never through a symbolic link, and only one of this
 * user's: anything else is refused (exit 2), since what it says decides deletions. Other failures throw as they are.
 */
async function readOwnFile(path: string): Promise<string | null> {
  let file;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP')
      throw new InputError(`cannot use the usage record ${path}: it is a symbolic link`, { cause: err });
    throw err;
  }
  try {
    const s = await file.stat();
    const uid = typeof process.getuid === 'function' ? process.getuid() : null;
    if (uid !== null && s.uid !== uid)
      throw new InputError(
        `cannot use the usage record ${path}: it belongs to uid ${s.uid}, not to this user (uid ${uid})`,
      );
    if (!s.isFile()) throw new Error('it is not a regular file');
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}
