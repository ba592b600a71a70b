/**
 * Where a one-shot command's time goes when no engine is involved: wall times of fresh processes, run in turn
 * (the order reversed every other run), median of RUNS:
 *   node -e 0                     Node's own start
 *   imgsweep --version            + loading the bundle (dist/bundle/imgsweep.cjs), no command
 *   imgsweep validate policies/ci-runner.yaml
 *   imgsweep plan -p policies/ci-runner.yaml --inventory examples/inventory.json
 *   node -e "require('dockerode')"  dockerode as installed, outside the bundle (with docker-modem, ssh2,
 *                                   @grpc/grpc-js, protobufjs)
 * Notes: which packages each command loads from node_modules at run time (the bundle leaves docker-modem and
 * ajv outside), and what the bundle's bytes are made of.
 *
 *   node bench/startup.bench.mjs [--runs 15]     (after npm run build)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, imgsweep, ROOT, run } from './engine.mjs';
import { emitResults, log, median, row } from './result.mjs';

const argv = process.argv.slice(2);
const RUNS = Number(argv.includes('--runs') ? argv[argv.indexOf('--runs') + 1] : 15);
const BUNDLE = join(ROOT, 'dist/bundle/imgsweep.cjs');
const PLAN = [
  'plan',
  '-p',
  'policies/ci-runner.yaml',
  '--inventory',
  'examples/inventory.json',
  '--now',
  '2026-11-27T12:00:00Z',
];

const COMMANDS = {
  node: () => run(process.execPath, ['-e', '0']),
  version: () => imgsweep(['--version']),
  validate: () => imgsweep(['validate', 'policies/ci-runner.yaml']),
  plan: () => imgsweep(PLAN),
  dockerode: () => run(process.execPath, ['-e', "require('dockerode')"]),
};

/** The packages a command loads from node_modules, in a fresh process that runs it through the bundle. */
async function packagesLoaded(args) {
  const code = `
    const { run } = require(${JSON.stringify(BUNDLE)});
    const sink = { write: () => true, isTTY: false };
    run(${JSON.stringify(args)}, { stdout: sink, stderr: sink, stdin: process.stdin, env: process.env, cwd: process.cwd() }).then(() => {
      const names = Object.keys(require.cache).flatMap((f) => f.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/g) ?? []);
      console.log(JSON.stringify([...new Set(names.map((n) => n.slice('node_modules/'.length)))]));
    });`;
  const r = check(await run(process.execPath, ['-e', code]), `packages loaded by ${args.join(' ')}`);
  return JSON.parse(r.stdout);
}

/** The bundle's bytes by origin: imgsweep's own code (dist/) and each package from node_modules. */
function bundleMakeup() {
  const text = readFileSync(BUNDLE, 'utf8');
  const parts = new Map();
  let origin = '(esbuild runtime)';
  let from = 0;
  for (const m of text.matchAll(/^\/\/ (dist\/|node_modules\/((?:@[^/]+\/)?[^/]+)\/)/gm)) {
    parts.set(origin, (parts.get(origin) ?? 0) + (m.index - from));
    origin = m[2] ?? 'imgsweep (dist/)';
    from = m.index;
  }
  parts.set(origin, (parts.get(origin) ?? 0) + (text.length - from));
  return { total: text.length, parts: [...parts].sort((a, b) => b[1] - a[1]) };
}

async function main() {
  const times = Object.fromEntries(Object.keys(COMMANDS).map((k) => [k, []]));
  const names = Object.keys(COMMANDS);
  for (let i = 0; i < RUNS; i++) {
    for (const name of i % 2 ? [...names].reverse() : names) times[name].push(check(await COMMANDS[name](), name).ms);
  }
  const m = Object.fromEntries(names.map((k) => [k, median(times[k])]));
  const base = { baseline: m.node, baselineName: 'node -e 0' };
  const rows = [
    row('node -e 0 (Node start)', m.node, 'ms'),
    row('imgsweep --version (start + bundle load)', m.version, 'ms', base),
    row('imgsweep validate policies/ci-runner.yaml', m.validate, 'ms', base),
    row('imgsweep plan -p ci-runner --inventory examples/inventory.json', m.plan, 'ms', base),
    row('node -e "require(\'dockerode\')" (unbundled)', m.dockerode, 'ms', base),
  ];
  const f = (v) => v.map((x) => x.toFixed(0)).join('/');
  const notes = [
    `${RUNS} runs of each, in turn (order reversed every other run), median; samples ms: ${names.map((k) => `${k} ${f(times[k])}`).join(', ')}`,
  ];
  for (const [what, args] of [
    ['validate', ['validate', 'policies/ci-runner.yaml']],
    ['plan --inventory', PLAN],
  ]) {
    notes.push(`${what} loads from node_modules: ${(await packagesLoaded(args)).join(', ') || 'nothing'}`);
  }
  const { total, parts } = bundleMakeup();
  const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
  notes.push(
    `bundle ${kb(total)}: ${parts
      .slice(0, 10)
      .map(([k, n]) => `${k} ${kb(n)}`)
      .join(', ')}, ${parts.length - 10} more packages ${kb(parts.slice(10).reduce((s, [, n]) => s + n, 0))}`,
  );
  log(notes.join('\n'));
  emitResults('startup', rows, notes, { engine: 'n/a (no engine)' });
}

await main();
