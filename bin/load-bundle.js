/**
 * Runs the bundled command line (dist/bundle/imgsweep.cjs, made by `npm run build`) with V8's code cache for it
 * (imgsweep.cjs.cache, made by the build from a sample run): Node 20 has no compile cache of its own, and
 * compiling the code each run was a fifth of a short run's time. A cache this Node cannot use is ignored.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export const BUNDLE = new URL('../dist/bundle/imgsweep.cjs', import.meta.url).pathname;

/** The bundle's exports, and the compiled script (for the build to make the cache from). */
export function loadBundle(path = BUNDLE, { cache = true } = {}) {
  let cachedData;
  if (cache) {
    try {
      cachedData = readFileSync(`${path}.cache`);
    } catch {
      // No cache: compiled as usual.
    }
  }
  const source = readFileSync(path, 'utf8');
  // The wrapper Node gives a CommonJS module, on the first line so that line numbers stay as they are.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: path, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(path), module, path, dirname(path));
  return { exports: module.exports, script };
}
