/** Inventory snapshots on disk: parse and validate, serialize canonically, read and write files. */
import { readFile, stat } from 'node:fs/promises';
import type { ErrorObject } from 'ajv';
import { InputError } from '../errors.js';
import { formatPath } from '../format-path.js';
import { validatorFor } from '../validation/validators.js';
import { syntaxErrorPosition } from './json-position.js';
import type { Inventory } from './types.js';

export { serializeInventory, writeInventoryFile } from './serialize.js';

/** Above this a snapshot is surely not one (and no longer fits in one string). */
export const MAX_INVENTORY_BYTES = 512 * 1024 * 1024;
const MAX_REPORTED = 20;

interface Problem {
  path: (string | number)[];
  message: string;
}

export function parseInventory(text: string, source: string): Inventory {
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new InputError(`${source}:${syntaxErrorPosition(text)}`, { cause: err });
  }
  const problems = kindProblems(data) ?? schemaProblems(data) ?? semanticProblems(data as Inventory);
  if (problems.length > 0) throw new InputError(formatProblems(source, problems));
  return data as Inventory;
}

/** A wrong kind or version means a different file, not a broken snapshot: say only that. */
function kindProblems(data: unknown): Problem[] | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const { kind, version } = data as Record<string, unknown>;
  if (kind !== 'imgsweep-inventory') {
    const got = kind === undefined ? 'no kind' : `got ${JSON.stringify(kind)}`;
    return [{ path: ['kind'], message: `must be "imgsweep-inventory" (${got}); this is not an inventory snapshot` }];
  }
  if (version !== 1) {
    return [
      {
        path: ['version'],
        message: `must be 1 (got ${JSON.stringify(version)}); this imgsweep reads inventory version 1`,
      },
    ];
  }
  return null;
}

function schemaProblems(data: unknown): Problem[] | null {
  const validate = validatorFor('inventory');
  if (validate(data)) return null;
  const byPath = new Map<string, Problem>();
  for (const err of validate.errors ?? []) {
    const problem = describeError(err, data);
    if (!problem) continue;
    const key = JSON.stringify(problem.path);
    if (!byPath.has(key)) byPath.set(key, problem);
  }
  return [...byPath.values()];
}

function describeError(err: ErrorObject, data: unknown): Problem | null {
  const path = pointerToPath(err.instancePath, data);
  const value = valueAt(data, path);
  const got = ` (got ${preview(value)})`;
  const params = err.params as Record<string, unknown>;
  // propertyNames fails twice: once on the key itself (kept) and once as a summary on the object (dropped).
  if (err.keyword === 'propertyNames') return null;
  if (err.propertyName !== undefined)
    return { path: [...path, err.propertyName], message: `key must match ${String(params.pattern)}` };
  switch (err.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'unknown key' };
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'required key is missing' };
    case 'type':
      return { path, message: `must be ${String(params.type).replace(/,/g, ' or ')}${got}` };
    case 'pattern':
      return { path, message: `must match ${String(params.pattern)}${got}` };
    case 'format':
      return { path, message: `must be an RFC 3339 date-time like 2026-11-27T11:00:00Z${got}` };
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map(preview).join(', ')}${got}` };
    default:
      return { path, message: `${err.message ?? err.keyword}${got}` };
  }
}

function semanticProblems(inv: Inventory): Problem[] {
  const problems: Problem[] = [];
  const imageIndex = indexById(inv.images, 'images', problems);
  indexById(inv.containers, 'containers', problems);
  // A container whose image is gone is possible (Docker 20.10 after a forced delete): allowed, like a missing parent.
  // A parent that is not listed is fine; a loop would hang every walk up the chain.
  const done = new Set<string>();
  inv.images.forEach((img) => {
    if (img.parentId === null) return; // no chain to follow (most images): a loop needs a parent
    const trail = new Set<string>();
    for (
      let id: string | null = img.id;
      id !== null && !done.has(id);
      id = inv.images[imageIndex.get(id) ?? -1]?.parentId ?? null
    ) {
      if (trail.has(id)) {
        problems.push({
          path: ['images', imageIndex.get(id)!, 'parentId'],
          message: `parent chain loops back to this image (${id})`,
        });
        break;
      }
      trail.add(id);
    }
    for (const id of trail) done.add(id);
  });
  return problems;
}

function indexById(items: { id: string }[], list: string, problems: Problem[]): Map<string, number> {
  const index = new Map<string, number>();
  items.forEach((item, i) => {
    const first = index.get(item.id);
    if (first === undefined) index.set(item.id, i);
    else problems.push({ path: [list, i, 'id'], message: `duplicate of ${list}[${first}].id ${item.id}` });
  });
  return index;
}

function formatProblems(source: string, problems: Problem[]): string {
  const lines = problems.slice(0, MAX_REPORTED).map((p) => `${source}: ${formatPath(p.path)}: ${p.message}`);
  if (problems.length > MAX_REPORTED) lines.push(`${source}: ... and ${problems.length - MAX_REPORTED} more problems`);
  return lines.join('\n');
}

/** Array indexes become numbers only where the data holds an array, so a label named "3" stays a key. */
function pointerToPath(pointer: string, data: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  let node = data;
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step = Array.isArray(node) ? Number(seg) : seg;
    path.push(step);
    node = (node as Record<string | number, unknown> | undefined)?.[step];
  }
  return path;
}

function valueAt(data: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((node, step) => (node as Record<string | number, unknown> | undefined)?.[step], data);
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export async function readInventoryFile(path: string): Promise<Inventory> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InputError(`${path}: not a regular file`);
    if (info.size > MAX_INVENTORY_BYTES) throw tooLarge(path, info.size);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_STRING_TOO_LONG') throw tooLarge(path, null);
    if (code === 'ENOENT')
      throw new InputError(`${path}: no such file (save one with: imgsweep inventory -o ${path})`, { cause: err });
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseInventory(text, path);
}

function tooLarge(path: string, size: number | null): InputError {
  const got = size === null ? '' : ` (${size} bytes)`;
  return new InputError(`${path}: too large for an inventory snapshot${got}; the limit is 512 MiB`);
}
