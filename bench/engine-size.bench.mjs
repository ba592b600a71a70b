/**
 * The engine layer's size, as `wc -l src/engine/*.ts` counts it: at 3a049d2 (the last commit with imgsweep's own
 * HTTP clients), at 1c4cbbb (dockerode for every call, before Prettier reformatted the code) and in the working
 * tree now. Read-only git; no build needed.
 *
 *   node bench/engine-size.bench.mjs
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './engine.mjs';
import { emitResults, row } from './result.mjs';

const BEFORE = '3a049d2';
const DOCKERODE = '1c4cbbb';
const lines = (text) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0); // as wc -l counts them
const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });

const dir = join(ROOT, 'src/engine');
const now = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => [f, lines(readFileSync(join(dir, f), 'utf8'))]);
const at = (commit) =>
  git('ls-tree', '--name-only', `${commit}:src/engine`)
    .split('\n')
    .filter((f) => f.endsWith('.ts'))
    .map((f) => [f, lines(git('show', `${commit}:src/engine/${f}`))]);
const then = at(BEFORE);
const dockerode = at(DOCKERODE);
const sum = (list) => list.reduce((s, [, n]) => s + n, 0);
const fmt = (list) => list.map(([f, n]) => `${f} ${n}`).join(', ');

emitResults(
  'engine-size',
  [
    row(`src/engine/*.ts at ${BEFORE} (own HTTP clients)`, sum(then), 'lines'),
    row(`src/engine/*.ts at ${DOCKERODE} (dockerode)`, sum(dockerode), 'lines', {
      baseline: sum(then),
      baselineName: BEFORE,
    }),
    row('src/engine/*.ts now (dockerode, Prettier)', sum(now), 'lines', { baseline: sum(then), baselineName: BEFORE }),
  ],
  [`at ${BEFORE}: ${fmt(then)}`, `now: ${fmt(now)}`],
  { engine: 'n/a (no engine)' },
);
