#!/usr/bin/env node
import { loadBundle } from './load-bundle.js';

const { run } = loadBundle().exports;
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
