/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and the total
 * (inclusive) time of the functions in the project's own dist/ code.
 *
 *   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--match /dist/] [--lines FUNCTION]
 *
 * --lines FUNCTION also lists the hottest source lines (self samples) of the functions with that name.
 */
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const file = argv.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const top = Number(opt('--top', 25));
const match = opt('--match', '/dist/');
const linesOf = opt('--lines', null);
if (!file) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--match PATH] [--lines FUNCTION]');
  process.exit(2);
}

const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the sample stream.
const selfUs = new Map();
samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((s, v) => s + v, 0);

const where = (cf) => {
  const url = cf.url.replace(/^file:\/\//, '');
  const at = url.indexOf(match);
  const short = at === -1 ? url.split('/').slice(-2).join('/') : url.slice(at + 1);
  return `${cf.functionName || '(anonymous)'} ${short}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
};

// Self time aggregated per function (name + location), and inclusive time counted once per sample stack.
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

const fmt = ([key, us]) => `${(us / 1000).toFixed(1).padStart(9)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`;
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n\nself time, top ${top}:`);
for (const e of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(fmt(e));
console.log(`\ninclusive time, functions under ${match}, top ${top}:`);
for (const e of [...inclusive].filter(([k]) => k.includes(match.replace(/^\/|\/$/g, ''))).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(fmt(e));

if (linesOf) {
  const ticks = new Map();
  for (const n of nodes.filter((x) => x.callFrame.functionName === linesOf)) {
    for (const { line, ticks: t } of n.positionTicks ?? []) {
      const key = `${where(n.callFrame).split(':')[0]}:${line}`;
      ticks.set(key, (ticks.get(key) ?? 0) + t);
    }
  }
  const sum = [...ticks.values()].reduce((s, v) => s + v, 0);
  console.log(`\nhottest lines of ${linesOf} (${sum} self samples):`);
  for (const [k, t] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(t).padStart(7)} ${((t / sum) * 100).toFixed(1).padStart(5)}%  ${k}`);
}
