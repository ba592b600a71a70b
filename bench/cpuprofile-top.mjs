/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and the total
 * (inclusive) time of the functions in the project's own dist/ code.
 *
 *   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--match /dist/] [--lines FUNCTION]
 *
 * --lines FUNCTION also lists the hottest source lines (self samples) of the functions with that name.
 */
import { readProfile } from './cpuprofile.mjs';

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

const { nodes, where, total, self, inclusive, own } = readProfile(file, match);

const fmt = ([key, us]) =>
  `${(us / 1000).toFixed(1).padStart(9)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`;
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n\nself time, top ${top}:`);
for (const e of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(fmt(e));
console.log(`\ninclusive time, functions under ${match}, top ${top}:`);
for (const e of [...inclusive]
  .filter(([k]) => own(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(fmt(e));

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
  for (const [k, t] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${String(t).padStart(7)} ${((t / sum) * 100).toFixed(1).padStart(5)}%  ${k}`);
}
