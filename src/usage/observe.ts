import type { Engine } from '../engine/engine.js';
import type { Inventory } from '../inventory/types.js';
import { foldUsage, type UsageMap } from './fold.js';
import { loadUsage, saveUsage } from './store.js';

/** How far back to ask for events on a first run: the engine keeps only a short backlog anyway. */
const FIRST_EVENTS_WINDOW_MS = 24 * 3_600_000;

interface Observation {
  record: Awaited<ReturnType<typeof loadUsage>>;
  events: Awaited<ReturnType<Engine['events']>>;
  eventsUntil: string;
}

/** The usage record so far and the engine's events since it: read while the engine is being listed. */
export async function readObservation(
  engine: Engine,
  engineKey: string,
  stateDir: string,
  now: number,
  warn: (message: string) => void,
): Promise<Observation> {
  const record = await loadUsage(stateDir, engineKey, warn, now);
  const since = record.eventsUntil ? Date.parse(record.eventsUntil) : now - FIRST_EVENTS_WINDOW_MS;
  try {
    return {
      record,
      events: await engine.events(new Date(since), new Date(now)),
      eventsUntil: new Date(now).toISOString(),
    };
  } catch (err) {
    // Ask for the same window again next time.
    warn(
      `cannot read the engine's events (${(err as Error).message}); last-used times come from containers only this run`,
    );
    return { record, events: [], eventsUntil: record.eventsUntil ?? new Date(since).toISOString() };
  }
}

/**
 * The usage record updated with what this run sees (containers, recent events), and its saving, which the
 * caller awaits when it likes (a plan can be made meanwhile). Failing to save is a warning; `saved` then gives
 * its words (null: saved).
 */
export function recordUsage(
  o: Observation,
  inventory: Inventory,
  stateDir: string,
  now: number,
  warn: (message: string) => void,
): { images: UsageMap; saved: Promise<string | null> } {
  const images = foldUsage(o.record.images, inventory, o.events, now);
  const saved = saveUsage(stateDir, {
    ...o.record,
    updatedAt: new Date(now).toISOString(),
    eventsUntil: o.eventsUntil,
    images,
  }).then(
    () => null,
    (err: unknown) => {
      const message = `cannot save the usage record in ${stateDir}: ${(err as Error).message} (choose another with --state-dir)`;
      warn(message);
      return message;
    },
  );
  return { images, saved };
}
