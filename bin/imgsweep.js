#!/usr/bin/env node
import { loadBundle } from './load-bundle.js';

/** The bundle `npm run build` makes; the compiled modules alone (e.g. after a bare `tsc`) work too, more slowly. */
async function load() {
  try {
    return loadBundle().exports;
  } catch (error) {
    if (error?.code !== 'ENOENT') throw error;
    return import('../dist/cli/main.js');
  }
}

const { run } = await load();
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
