#!/usr/bin/env node
/**
 * The `imgsweep` command: runs the bundled command line, dist/bundle/imgsweep.cjs (made by `npm run build`).
 * Node 22.1 and later keep its compiled code between runs (module.enableCompileCache: in the system's temp
 * folder, or where NODE_COMPILE_CACHE says); Node 20 compiles it on every run.
 */
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/bundle/imgsweep.cjs', import.meta.url));

module.enableCompileCache?.();
// --verbose prints stack traces: through the bundle's source map they name the TypeScript files (src/…ts).
// Only then: Node reads a module's map as it loads it, which would cost every run 15–50 ms.
if (process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);

if (existsSync(bundle)) {
  const { run } = module.createRequire(import.meta.url)(bundle);
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  });
} else {
  process.stderr.write(`imgsweep: ${bundle} is missing: run \`npm run build\`\n`);
  process.exitCode = 1;
}
