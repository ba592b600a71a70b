import { readFileSync } from 'node:fs';
import { ImgsweepError } from '../errors.js';
import { commandHelp, mainHelp } from './help.js';
import { safeIo, type CliIo } from './io.js';
export type { CliIo } from './io.js';

type Command = (args: string[], io: CliIo) => Promise<number>;

// Loaded on demand: a command pays only for the modules it uses (validate never loads the engine client).
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  schema: async () => (await import('./commands/schema.js')).schemaCommand,
  plan: async () => (await import('./commands/plan.js')).planCommand,
  inventory: async () => (await import('./commands/inventory.js')).inventoryCommand,
  explain: async () => (await import('./commands/explain.js')).explainCommand,
  apply: async () => (await import('./commands/apply.js')).applyCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  diff: async () => (await import('./commands/diff.js')).diffCommand,
  test: async () => (await import('./commands/test.js')).testCommand,
};

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs one command line and returns the exit code; only bin/imgsweep.js sets process.exitCode. */
export async function run(argv: string[], outside: CliIo): Promise<number> {
  const io = safeIo(outside);
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(mainHelp(packageVersion()));
    return 2;
  }
  if (name === '--help' || name === '-h') {
    io.stdout.write(mainHelp(packageVersion()));
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(mainHelp(packageVersion()));
      return 0;
    }
    const text = commandHelp(topic);
    if (!text) {
      io.stderr.write(`imgsweep: no such command "${topic}" (see imgsweep --help)\n`);
      return 2;
    }
    io.stdout.write(text);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    io.stderr.write(`imgsweep: unknown command "${name}" (see imgsweep --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(commandHelp(name) ?? '');
    return 0;
  }
  const verbose = rest.includes('--verbose');
  try {
    const command = await load();
    return await command(rest, io);
  } catch (err) {
    return reportError(err, io, verbose);
  }
}

function reportError(err: unknown, io: CliIo, verbose: boolean): number {
  if (err instanceof ImgsweepError) {
    // Policy problems are already "FILE:LINE:COL path: message" lines.
    io.stderr.write(err.code === 'POLICY' ? `${err.message}\n` : `imgsweep: ${err.message}\n`);
    if (verbose) writeCauses(err, io);
    return err.exitCode;
  }
  io.stderr.write(`imgsweep: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (verbose || !(err instanceof Error)) io.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
  else io.stderr.write('  (run again with --verbose for details)\n');
  return 1;
}

function writeCauses(err: Error, io: CliIo): void {
  let cause: unknown = err.cause;
  while (cause) {
    io.stderr.write(
      `  caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : JSON.stringify(cause)}\n`,
    );
    cause = cause instanceof Error ? cause.cause : undefined;
  }
}
