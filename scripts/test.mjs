#!/usr/bin/env node
/**
 * `npm test`: builds, makes sure the engines the integration tests need are installed, and runs every test
 * (arguments go to vitest: `npm test -- test/plan`), all with TMPDIR in one private folder that is removed at
 * the end (scripts/private-tmp.mjs), so that the run leaves nothing in the temp folder.
 */
import { fileURLToPath } from 'node:url';
import { runInPrivateTmp } from './private-tmp.mjs';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
process.exitCode = await runInPrivateTmp([
  ['npm', 'run', 'build'],
  [process.execPath, 'scripts/ensure-engine.mjs'],
  ['node_modules/.bin/vitest', 'run', ...process.argv.slice(2)],
]);
