import { mapLimit } from '../map-limit.js';
import { accountingSkipped } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { diskText } from '../report/disk-text.js';
import type { CliIo } from './io.js';

/** How many engines one run works on at the same time. */
export const ENGINES_IN_PARALLEL = 4;

/** Runs `fn` over items with at most `limit` in flight; results in input order, failures as values. */
export function settleLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  return mapLimit(items, limit, (item) =>
    Promise.resolve(item)
      .then(fn)
      .then(
        (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
        (reason: unknown): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
      ),
  );
}

/** Reports the engines whose part failed, one line each, and returns the worst exit code among them. */
export function reportFailures(
  results: readonly PromiseSettledResult<unknown>[],
  names: readonly (string | undefined)[],
  io: CliIo,
): number {
  let code = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const err = r.reason as { message?: string; exitCode?: number };
    io.stderr.write(`imgsweep: [${names[i] ?? 'default engine'}] ${err.message ?? String(r.reason)}\n`);
    code = Math.max(code, typeof err.exitCode === 'number' ? err.exitCode : 1);
  });
  return code;
}

/**
 * A disk budget skipped for want of the engine's disk accounting fails the run (exit 1), so that cron or CI
 * notices: said on stderr, naming the engine when there are several. Returns the exit code it calls for.
 */
export function reportSkippedDisk(plans: readonly Plan[], io: CliIo, named = plans.length > 1): number {
  const skipped = plans.filter(accountingSkipped);
  for (const p of skipped)
    io.stderr.write(`imgsweep: ${named ? `[${p.engine.name} (${p.engine.host})] ` : ''}${diskText(p.disk!)}\n`);
  return skipped.length > 0 ? 1 : 0;
}
