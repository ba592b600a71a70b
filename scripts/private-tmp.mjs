#!/usr/bin/env node
/**
 * Runs commands with TMPDIR set to one new private folder, and removes that folder when they are done, whatever
 * happened (a failure, Ctrl-C, SIGTERM): what they leave in the temp folder (test daemons' folders,
 * Node's compile cache) goes with it. The folder's path is short, since test daemons put their sockets in it
 * and a unix socket's path holds at most 107 bytes. Afterwards it names anything new left in the temp folder
 * itself (by code that does not honour TMPDIR); under CI that fails the run.
 *
 *   node scripts/private-tmp.mjs CMD [ARGS...]    runs one command; exits with its status
 *
 * scripts/test.mjs (`npm test`) runs its steps through runInPrivateTmp.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FORWARDED = ['SIGTERM', 'SIGHUP'];
// Ctrl-C reaches the whole foreground process group, the command too: this process only waits for it to end.
const WAITED = ['SIGINT'];

/** Mount points at or under dir (a test daemon stopped before it could unmount), deepest first. */
function mountsUnder(dir) {
  let table;
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
  return table
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Removes the folder; never follows a mount out of it (unmounts what it can, leaves the folder otherwise). */
function remove(dir) {
  for (const point of mountsUnder(dir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  const left = mountsUnder(dir);
  if (left.length > 0) {
    console.error(`private-tmp: ${dir} left in place: still mounted: ${left.join(' ')}`);
    return false;
  }
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    return true;
  } catch (error) {
    console.error(`private-tmp: could not remove ${dir}: ${error.message}`);
    return false;
  }
}

function runCommand([cmd, ...args], env, state) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env, stdio: 'inherit' });
    state.child = child;
    child.on('error', (error) => {
      console.error(`private-tmp: ${cmd}: ${error.message}`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + constants.signals[signal]));
  });
}

/**
 * Runs the commands one after the other (stopping at the first that fails) with TMPDIR in a new private folder,
 * then removes it. Resolves with the exit status: the failed command's, or 0.
 */
export async function runInPrivateTmp(commands) {
  const outer = tmpdir();
  const before = new Set(readdirSync(outer));
  const dir = mkdtempSync(join(outer, 'iswt-'));
  const env = { ...process.env, TMPDIR: dir };
  const state = { child: null, signal: null };
  const onSignal = (signal) => {
    state.signal ??= signal;
    if (FORWARDED.includes(signal)) state.child?.kill(signal);
  };
  for (const signal of [...FORWARDED, ...WAITED]) process.on(signal, onSignal);
  let status = 0;
  try {
    for (const command of commands) {
      status = await runCommand(command, env, state);
      if (status !== 0 || state.signal !== null) break;
    }
  } finally {
    for (const signal of [...FORWARDED, ...WAITED]) process.off(signal, onSignal);
    if (!remove(dir) && status === 0) status = 1;
  }
  if (state.signal !== null) return 128 + constants.signals[state.signal];
  const added = readdirSync(outer).filter((name) => !before.has(name));
  if (added.length > 0) {
    console.error(`private-tmp: left in ${outer} (created while the commands ran): ${added.sort().join(' ')}`);
    if (process.env.CI && status === 0) status = 1;
  }
  return status;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv.slice(2);
  if (command.length === 0) {
    console.error('usage: node scripts/private-tmp.mjs CMD [ARGS...]');
    process.exit(2);
  }
  process.exitCode = await runInPrivateTmp([command]);
}
