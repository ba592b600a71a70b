/** Classifies the answer to a write call (untag, delete, remove container) by status code, never by wording. */
import type { EngineKind } from '../inventory/types.js';
import type { WriteOutcome } from './engine.js';
import { normalizeId } from './map.js';
import { isObj } from './shape.js';

/** The body of DELETE /images/…: [{Untagged}, {Deleted}] in any order (Podman lists Deleted first). */
export function doneFromDeleteResponse(body: unknown): WriteOutcome {
  const deleted: string[] = [];
  const untagged: string[] = [];
  for (const item of Array.isArray(body) ? body : []) {
    if (!isObj(item)) continue;
    if (typeof item.Deleted === 'string') deleted.push(normalizeId(item.Deleted));
    if (typeof item.Untagged === 'string') untagged.push(item.Untagged);
  }
  return { status: 'done', deleted, untagged };
}

/** What dockerode attaches to a failed call: statusCode and json for HTTP answers, neither for transport errors. */
interface CallError {
  statusCode?: unknown;
  json?: unknown;
  message?: unknown;
  code?: unknown;
}

/** The engine's own message (Docker: {message}; Podman: {cause, message, response}), else the error's. */
export function engineMessage(error: unknown): string {
  const e = (isObj(error) || error instanceof Error ? error : {}) as CallError;
  if (isObj(e.json) && typeof e.json.message === 'string' && e.json.message !== '') return e.json.message;
  if (typeof e.json === 'string' && e.json.trim() !== '') return e.json.trim();
  if (Buffer.isBuffer(e.json) && e.json.length > 0) return e.json.toString().trim();
  const message = typeof e.message === 'string' ? e.message : String(error);
  return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

export function statusOf(error: unknown): number | null {
  const code: unknown = isObj(error) || error instanceof Error ? (error as CallError).statusCode : undefined;
  return typeof code === 'number' ? code : null;
}

// Podman answers 500 (not 409) when an image has several names and force was not sent, and when a container
// to remove is running ("container state improper"; Docker: 409).
const PODMAN_CONFLICT = /more than one (tag|name)|multiple (tags|names)|container state improper/i;

export function outcomeFromError(error: unknown, kind: EngineKind): WriteOutcome {
  const message = engineMessage(error);
  const status = statusOf(error);
  if (status === null) return { status: 'failed', message, transport: true };
  if (status === 404) return { status: 'gone', message };
  if (status === 409) return { status: 'conflict', message };
  if (status === 500 && kind === 'podman' && PODMAN_CONFLICT.test(message)) return { status: 'conflict', message };
  return { status: 'failed', message: `HTTP ${status}: ${message}`, transport: false };
}
