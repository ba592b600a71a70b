/** Runtime checks for engine responses: a wrong shape is an EngineError naming where, never a crash. */
import { EngineError } from '../errors.js';

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
}

export function fail(where: string, expected: string, got: unknown): never {
  throw new EngineError(`unexpected engine response: ${where} should be ${expected}, got ${describe(got)}`);
}

export function asObj(value: unknown, where: string): Obj {
  return isObj(value) ? value : fail(where, 'an object', value);
}

export function asArray(value: unknown, where: string): unknown[] {
  return Array.isArray(value) ? value : fail(where, 'an array', value);
}

export function str(o: Obj, key: string, where: string): string {
  const value = o[key];
  return typeof value === 'string' ? value : fail(`${where}.${key}`, 'a string', value);
}

export function optStr(o: Obj, key: string, where: string): string | null {
  const value = o[key];
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : fail(`${where}.${key}`, 'a string', value);
}

export function num(o: Obj, key: string, where: string): number {
  const value = o[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : fail(`${where}.${key}`, 'a number', value);
}

export function optNum(o: Obj, key: string, where: string): number | null {
  const value = o[key];
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && Number.isFinite(value) ? value : fail(`${where}.${key}`, 'a number', value);
}

/** A list of strings where the engine may send null or omit it (e.g. RepoTags of digest-only images). */
export function strList(o: Obj, key: string, where: string): string[] {
  const value = o[key];
  if (value === undefined || value === null) return [];
  const list = asArray(value, `${where}.${key}`);
  return list.map((item, i) => (typeof item === 'string' ? item : fail(`${where}.${key}[${i}]`, 'a string', item)));
}

/** A string map where the engine may send null (e.g. Labels). */
export function strMap(o: Obj, key: string, where: string): Record<string, string> {
  const value = o[key];
  if (value === undefined || value === null) return {};
  const map = asObj(value, `${where}.${key}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    out[k] = typeof v === 'string' ? v : fail(`${where}.${key}.${k}`, 'a string', v);
  }
  return out;
}
