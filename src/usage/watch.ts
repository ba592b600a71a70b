import type { Engine, EngineEvent } from '../engine/engine.js';
import { EngineUnavailable } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { foldUsage } from './fold.js';
import { loadUsage, saveUsage, type UsageRecord } from './store.js';

export interface WatchOptions {
  stateDir: string;
  signal: AbortSignal;
  /** Flush the record at most this often while events arrive (ms). */
  flushMs: number;
  clock: () => number;
  log: (message: string) => void;
  /** Reconnect backoff bounds (ms). */
  backoffMs?: { min: number; max: number };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Follows the engine's container events and records each image's use as it happens, so that containers
 * run with --rm between two cron runs still count. Never deletes anything. Returns when `signal` aborts,
 * after a last flush.
 */
export async function watchUsage(engine: Engine, opts: WatchOptions): Promise<{ events: number; flushes: number }> {
  const identity = await engine.identity();
  let record: UsageRecord = await loadUsage(opts.stateDir, identity.key, opts.log, opts.clock());
  let inventory: Pick<Inventory, 'images' | 'containers'> = { images: [], containers: [] };
  let pending: EngineEvent[] = [];
  let events = 0;
  let flushes = 0;
  let since = record.eventsUntil ? Date.parse(record.eventsUntil) : opts.clock();

  const refresh = async () => {
    inventory = { images: await engine.listImages(), containers: await engine.listContainers() };
  };
  // Flushes run one after another: a save must never overtake an earlier one.
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    flushing = flushing.then(flushNow, flushNow);
    return flushing;
  };
  const flushNow = async () => {
    if (pending.length === 0) return;
    const now = opts.clock();
    // Tags and containers change: resolve the batch against a fresh listing when the engine answers.
    await refresh().catch(() => undefined);
    const batch = pending;
    pending = [];
    record = {
      ...record,
      updatedAt: new Date(now).toISOString(),
      eventsUntil: new Date(since).toISOString(),
      images: foldUsage(record.images, inventory, batch, now),
    };
    try {
      await saveUsage(opts.stateDir, record);
    } catch (err) {
      pending = [...batch, ...pending];
      throw err;
    }
    flushes++;
  };

  const backoff = opts.backoffMs ?? { min: 1_000, max: 30_000 };
  let delay = backoff.min;
  let advised = false;
  const timer = setInterval(() => {
    if (pending.length > 0)
      flush().catch((err: unknown) => opts.log(`cannot flush the usage record: ${(err as Error).message}`));
  }, opts.flushMs);
  try {
    while (!opts.signal.aborted) {
      try {
        await refresh();
        advised = false;
        opts.log(`following container events of ${identity.name} since ${new Date(since).toISOString()}`);
        const started = opts.clock();
        await engine.streamEvents(
          new Date(since),
          (e) => {
            pending.push(e);
            events++;
            since = Math.max(since, Date.parse(e.time));
            delay = backoff.min;
          },
          opts.signal,
        );
        // A stream that ends at once (engine shutting down) must not spin.
        if (opts.clock() - started < 1_000) await sleep(backoff.min, opts.signal);
      } catch (err) {
        if (opts.signal.aborted) break;
        // The advice on where to point imgsweep is said once; the retries after it say only what happened.
        const said = advised && err instanceof EngineUnavailable ? err.brief : (err as Error).message;
        advised ||= err instanceof EngineUnavailable;
        opts.log(`event stream lost (${said}); reconnecting in ${Math.round(delay / 1000)} s`);
        await sleep(delay, opts.signal);
        delay = Math.min(delay * 2, backoff.max);
      }
    }
  } finally {
    clearInterval(timer);
    await flush().catch((err: unknown) => opts.log(`cannot flush the usage record: ${(err as Error).message}`));
  }
  return { events, flushes };
}
