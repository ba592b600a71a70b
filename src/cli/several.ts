import type { CliIo } from './io.js';

/** How many engines one run works on at the same time. */
export const ENGINES_IN_PARALLEL = 4;

/** Runs `fn` over items with at most `limit` in flight; results in input order, failures as values. */
export async function settleLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i]!) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Reports the engines whose part failed, one line each, and returns the worst exit code among them. */
export function reportFailures(results: readonly PromiseSettledResult<unknown>[], names: readonly (string | undefined)[], io: CliIo): number {
  let code = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const err = r.reason as { message?: string; exitCode?: number };
    io.stderr.write(`imgsweep: [${names[i] ?? 'default engine'}] ${err.message ?? String(r.reason)}\n`);
    code = Math.max(code, typeof err.exitCode === 'number' ? err.exitCode : 1);
  });
  return code;
}
