import type { Engine } from '../engine/engine.js';
import type { Inventory } from '../inventory/types.js';
import { foldUsage, type UsageMap } from './fold.js';
import { loadUsage, saveUsage } from './store.js';

/** How far back to ask for events on a first run: the engine keeps only a short backlog anyway. */
const FIRST_EVENTS_WINDOW_MS = 24 * 3_600_000;

/**
 * Updates the engine's usage record with what this run sees (containers, recent events) and saves it.
 * Failures to read events or save are warnings: the run goes on with what it has.
 */
export async function observeUsage(engine: Engine, inventory: Inventory, stateDir: string, now: number, warn: (message: string) => void): Promise<UsageMap> {
  const record = await loadUsage(stateDir, inventory.engine.key, warn, now);
  const since = record.eventsUntil ? Date.parse(record.eventsUntil) : now - FIRST_EVENTS_WINDOW_MS;
  let events: Awaited<ReturnType<Engine['events']>> = [];
  let eventsUntil = new Date(now).toISOString();
  try {
    events = await engine.events(new Date(since), new Date(now));
  } catch (err) {
    // Ask for the same window again next time.
    eventsUntil = record.eventsUntil ?? new Date(since).toISOString();
    warn(`cannot read the engine's events (${(err as Error).message}); last-used times come from containers only this run`);
  }
  const images = foldUsage(record.images, inventory, events, now);
  try {
    await saveUsage(stateDir, { ...record, updatedAt: new Date(now).toISOString(), eventsUntil, images });
  } catch (err) {
    warn(`cannot save the usage record in ${stateDir}: ${(err as Error).message} (choose another with --state-dir)`);
  }
  return images;
}
