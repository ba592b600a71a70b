/** Reading one folder of recorded Engine API answers (test/fixtures/engine-api/<api>/<store>). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { mapContainer, parseEvents } from '../../src/engine/map.js';
import { doneFromDeleteResponse } from '../../src/engine/outcome.js';
import type { ImageRecord } from '../../src/inventory/types.js';
import { foldUsage } from '../../src/usage/fold.js';

const ROOT = fileURLToPath(new URL('../fixtures/engine-api/', import.meta.url));

export function reader(api: string, store: string) {
  const dir = join(ROOT, api, store);
  const text = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { text, json: (name: string): unknown => JSON.parse(text(name)) };
}

/** A delete answer that must be a success: its deleted IDs and untagged names. */
export function done(body: unknown): { deleted: string[]; untagged: string[] } {
  const outcome = doneFromDeleteResponse(body);
  return outcome.status === 'done' ? outcome : expect.fail(`not done: ${outcome.status}`);
}

/**
 * The usage record after the folder's events, for an image seen before and last used a month before them (a
 * first sighting would count as used now).
 */
export function usageAfterEvents(folder: ReturnType<typeof reader>, images: ImageRecord[], seenBefore: string) {
  const containers = (folder.json('containers.json') as unknown[]).map((c) => mapContainer(c, null));
  const before = { firstSeen: '2025-08-02T00:00:00.000Z', lastUsed: '2025-11-01T00:00:00.000Z', source: 'first seen' };
  return foldUsage(
    { [seenBefore]: before },
    { images, containers },
    parseEvents(folder.text('events.jsonl')),
    Date.parse('2025-12-03T00:00:00Z'),
  );
}
