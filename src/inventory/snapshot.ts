/** Inventory snapshots on disk: parse and validate, serialize canonically, read and write files. */
import { readFileSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { InputError } from '../errors.js';
import type { ContainerRecord, ImageRecord, Inventory, UsageEntry } from './types.js';

/** Above this a snapshot is surely not one (and no longer fits in one string). */
export const MAX_INVENTORY_BYTES = 512 * 1024 * 1024;
const MAX_REPORTED = 20;
const SCHEMA_URL = new URL('../../schemas/inventory.schema.json', import.meta.url);

let cached: ValidateFunction | null = null;

/** One ajv instance per process: compiling costs more than validating. */
function validator(): ValidateFunction {
  if (!cached) {
    const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats.default(ajv, ['date-time']);
    cached = ajv.compile(JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object);
  }
  return cached;
}

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
    return [{ path: ['version'], message: `must be 1 (got ${JSON.stringify(version)}); this imgsweep reads inventory version 1` }];
  }
  return null;
}

function schemaProblems(data: unknown): Problem[] | null {
  const validate = validator();
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
  if (err.propertyName !== undefined) return { path: [...path, err.propertyName], message: `key must match ${String(params.pattern)}` };
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
    const trail = new Set<string>();
    for (let id: string | null = img.id; id !== null && !done.has(id); id = inv.images[imageIndex.get(id) ?? -1]?.parentId ?? null) {
      if (trail.has(id)) {
        problems.push({ path: ['images', imageIndex.get(id)!, 'parentId'], message: `parent chain loops back to this image (${id})` });
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

/** images[3].id, usage["sha256:..."], labels["com.acme.keep"]; "(root)" for the document. */
function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
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

/** "line:col: not valid JSON: why" for the first syntax error (V8's messages do not always carry a position). */
function syntaxErrorPosition(text: string): string {
  let offset = text.length;
  try {
    offset = firstSyntaxError(text);
  } catch {
    // Nesting too deep for the scanner: point at the end.
  }
  const before = text.slice(0, offset).split('\n');
  const what = offset >= text.length ? 'unexpected end of file' : `unexpected ${JSON.stringify(text[offset])}`;
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}: not valid JSON: ${what}`;
}

function firstSyntaxError(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(i);
  };
  const ws = (): void => {
    while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++;
  };
  const expect = (c: string): void => {
    ws();
    if (s[i] !== c) fail();
    i++;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const escape = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = s[i];
      if (c === undefined || c < ' ') fail();
      else if (c === '"') return void i++;
      else if (c === '\\') {
        escape.lastIndex = i;
        if (!escape.test(s)) fail();
        i = escape.lastIndex;
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (s[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          string();
          expect(':');
        }
        value();
        ws();
        if (s[i] === ',') i++;
        else return expect(close);
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) if (s.startsWith(word, i)) return void (i += word.length);
    number.lastIndex = i;
    if (!number.test(s)) fail();
    i = number.lastIndex;
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
  } catch (err) {
    if (err instanceof SyntaxAt) return err.offset;
    throw err;
  }
  return s.length;
}

class SyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`);
  }
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
    if (code === 'ENOENT') throw new InputError(`${path}: no such file (save one with: imgsweep inventory -o ${path})`, { cause: err });
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseInventory(text, path);
}

function tooLarge(path: string, size: number | null): InputError {
  const got = size === null ? '' : ` (${size} bytes)`;
  return new InputError(`${path}: too large for an inventory snapshot${got}; the limit is 512 MiB`);
}

/** Canonical JSON: sorted lists and keys in a fixed order, so equal inventories give equal bytes. */
export function serializeInventory(inv: Inventory): string {
  const out: Record<string, unknown> = {
    kind: inv.kind,
    version: inv.version,
    capturedAt: inv.capturedAt,
    engine: {
      key: inv.engine.key,
      id: inv.engine.id,
      name: inv.engine.name,
      kind: inv.engine.kind,
      version: inv.engine.version,
      apiVersion: inv.engine.apiVersion,
      rootDir: inv.engine.rootDir,
      driver: inv.engine.driver,
      imageStore: inv.engine.imageStore,
      host: inv.engine.host,
    },
    images: [...inv.images].sort(byId).map(canonicalImage),
    containers: [...inv.containers].sort(byId).map(canonicalContainer),
    usage: sortedObject(inv.usage, canonicalUsage),
  };
  if (inv.disk !== undefined) {
    out.disk = inv.disk && { totalBytes: inv.disk.totalBytes, usedBytes: inv.disk.usedBytes, path: inv.disk.path };
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

function canonicalImage(img: ImageRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: img.id,
    parentId: img.parentId,
    repoTags: sorted(img.repoTags),
    repoDigests: sorted(img.repoDigests),
    created: img.created,
    size: img.size,
    sharedSize: img.sharedSize,
    labels: sortedObject(img.labels, (v) => v),
  };
  // Layer order is the image's RootFS order: never sorted.
  if (img.layers) out.layers = img.layers.map((l) => ({ digest: l.digest, size: l.size }));
  return out;
}

function canonicalContainer(c: ContainerRecord): Record<string, unknown> {
  return {
    id: c.id,
    names: [...c.names],
    imageId: c.imageId,
    image: c.image,
    state: c.state,
    created: c.created,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    mountImageIds: sorted(c.mountImageIds),
  };
}

function canonicalUsage(u: UsageEntry): Record<string, unknown> {
  return u.source === undefined ? { firstSeen: u.firstSeen, lastUsed: u.lastUsed } : { firstSeen: u.firstSeen, lastUsed: u.lastUsed, source: u.source };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byId = (a: { id: string }, b: { id: string }): number => compare(a.id, b.id);
const sorted = (list: string[]): string[] => [...list].sort(compare);

/** fromEntries defines own keys, so a "__proto__" label stays a label. */
function sortedObject<T>(obj: Record<string, T>, map: (v: T) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.keys(obj).sort(compare).map((k) => [k, map(obj[k]!)]));
}

/** Atomic: a reader sees the old file or the new one, never half of one. */
export async function writeInventoryFile(path: string, inv: Inventory): Promise<void> {
  const text = serializeInventory(inv);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(tmp, 'wx', 0o644);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable; not possible on every platform, and then not needed. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open a directory: nothing to do there.
  }
}
