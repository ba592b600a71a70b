/** Reading V8 .cpuprofile files (node --cpu-prof): self and inclusive time per function. */
import { readFileSync } from 'node:fs';

/**
 * Parses a profile. `match` (e.g. '/dist/') shortens paths of the project's own code. Times in µs.
 * Inclusive time counts a function once per sample stack, however deep it recurses.
 */
export function readProfile(file, match = '/dist/') {
  const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((s, v) => s + v, 0);
  const where = (cf) => {
    const url = cf.url.replace(/^file:\/\//, '');
    const at = url.indexOf(match);
    const short = at === -1 ? url.split('/').slice(-2).join('/') : url.slice(at + 1);
    return `${cf.functionName || '(anonymous)'} ${short}${cf.url ? `:${cf.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map();
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const key = where(byId.get(id).callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = where(byId.get(cur).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const own = (key) => key.includes(` ${match.replace(/^\/|\/$/g, '')}/`);
  return { nodes, where, total, self, inclusive, own };
}

/** The functions that dominate a profile, as data for a benchmark's notes. */
export function cpuProfileTop(file, { top = 12, match = '/dist/' } = {}) {
  const p = readProfile(file, match);
  const list = (m, filter = () => true) =>
    [...m]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ fn: k, ms: Math.round(us / 100) / 10, pct: Math.round((us / p.total) * 1000) / 10 }));
  return { totalMs: Math.round(p.total / 1000), self: list(p.self), inclusiveOwn: list(p.inclusive, p.own) };
}
