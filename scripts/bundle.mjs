/**
 * Part of `npm run build`: bundles the command line (dist/cli/main.js and every command) into one CommonJS file,
 * dist/bundle/imgsweep.cjs, which bin/imgsweep.js runs: one file loads faster than ~130 modules (yaml alone is
 * 72). Its source map, dist/bundle/imgsweep.cjs.map, follows tsc's maps back to src/, so a stack trace printed
 * with --verbose names the TypeScript files. The library entry (dist/index.js) stays unbundled.
 * docker-modem (which brings ssh2 and its optional native parts) and ajv (the fallback when a precompiled
 * validator is missing) stay outside, loaded from node_modules. The bundle sits two levels below the package root, like dist/cli/main.js and
 * dist/validation/validators.js, so the relative paths they use (package.json, schemas/, compiled/) still hold.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));

rmSync(dist('bundle'), { recursive: true, force: true });
await build({
  entryPoints: [dist('cli/main.js')],
  outfile: dist('bundle/imgsweep.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['docker-modem', 'ajv', 'ajv-formats'],
  // The sources are ES modules that find their data files from import.meta.url.
  define: { 'import.meta.url': '__imgsweepUrl' },
  banner: { js: "const __imgsweepUrl = require('node:url').pathToFileURL(__filename).href;" },
  // esbuild reads the input files' own maps (tsc's, and those some dependencies ship), so positions map to src/.
  // Without the sources' text: a stack trace needs only file names and positions.
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
});
