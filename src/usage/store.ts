import { mkdir, readFile, rename } from 'node:fs/promises';
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
    if (!/^sha256:[0-9a-f]{64}$/.test(id) || !validEntry(e)) return `bad entry for ${id}`;
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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyUsage(engineKey);
    warn(`cannot read the usage record ${path}: ${(err as Error).message}; using a fresh one for this run`);
    return emptyUsage(engineKey);
  }
  let why: string | null;
  let value: unknown = null;
  try {
    value = JSON.parse(text);
    why = problem(value, engineKey);
  } catch (err) {
    why = `not JSON (${(err as Error).message})`;
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
