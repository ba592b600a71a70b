/**
 * What every bench script shares: timing helpers and the result line run.mjs collects.
 *
 * A bench script prints progress on stderr and exactly one JSON line on stdout:
 *   {"bench":"plan","rows":[{"name":"plan 10k","value":123.4,"unit":"ms","baseline":40.1,
 *     "baselineName":"JSON.parse","ratio":3.08,"target":"< 300 ms","pass":true}, ...],"notes":[...],"engine":"..."}
 * `baseline`, `ratio`, `target` and `pass` may be null (informational rows).
 */
import { performance } from 'node:perf_hooks';

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs fn `runs` times (collecting garbage first when --expose-gc allows); returns the times in ms and the last result. */
export function timeRuns(runs, fn) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    result = fn();
    times.push(performance.now() - t0);
  }
  return { times, median: median(times), first: times[0], result };
}

/** One result row; `max` makes a target "value < max", `atMost` one "value <= atMost", and decides PASS/MISS. */
export function row(name, value, unit, { baseline = null, baselineName = null, max = null, atMost = null } = {}) {
  const round = (v) => (v === null ? null : Math.round(v * 100) / 100);
  const [op, limit] = atMost === null ? ['<', max] : ['≤', atMost];
  return {
    name,
    value: round(value),
    unit,
    baseline: round(baseline),
    baselineName,
    ratio: baseline ? round(value / baseline) : null,
    target: limit === null ? null : unit === 'x' ? `${op} ${limit}x` : `${op} ${limit} ${unit}`,
    pass: limit === null ? null : atMost === null ? value < max : round(value) <= atMost,
  };
}

/** `extra.engine`: the engine version a benchmark ran against ("dockerd 20.10.24, API 1.41"); run.mjs records it. */
export function emitResults(bench, rows, notes = [], extra = {}) {
  process.stdout.write(`${JSON.stringify({ bench, rows, notes, ...extra })}\n`);
}

export const log = (...args) => console.error(...args);

export const MiB = 1024 * 1024;

/** Peak resident set size of this process so far. */
export function peakRssMiB() {
  return (process.resourceUsage().maxRSS * 1024) / MiB;
}
