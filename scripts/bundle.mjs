/**
 * Part of `npm run build`: bundles the command line (dist/cli/main.js and the commands it loads on demand) into
 * dist/bundle/, which bin/imgsweep.js runs. One file per command plus shared chunks instead of ~130 modules
 * (yaml alone is 72) halves the time Node spends loading before a command starts (~60 -> ~30 ms for apply).
 * The library entry (dist/index.js) stays unbundled. docker-modem (ssh:// only) and ajv (the fallback when a
 * precompiled validator is missing) stay outside and load on demand. Bundled modules sit two levels below the
 * package root, like dist/cli/main.js and dist/validation/validators.js, so their relative paths still hold.
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = new URL('../dist/bundle/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['docker-modem', 'ajv', 'ajv-formats'],
  // CommonJS dependencies (yaml) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __imgsweepRequire } from 'node:module'; const require = __imgsweepRequire(import.meta.url);" },
  logLevel: 'warning',
});
