/** Calls the command line in-process, as bin/imgsweep.js does, with an io that collects what it writes. */
import { Readable } from 'node:stream';
import { run, type CliIo } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The whole environment the command sees (default: none, so no DOCKER_HOST leaks in from the test runner). */
  env?: NodeJS.ProcessEnv;
  /** Whether stdin claims to be a terminal (default: false, as under cron or CI). */
  stdinTTY?: boolean;
  /** What stdin holds (default: nothing). */
  input?: string;
  /** Whether stdout and stderr claim to be a terminal too (a person at a prompt; default false). */
  terminal?: boolean;
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const stdin = Object.assign(Readable.from(opts.input === undefined ? [] : [opts.input]), {
    isTTY: opts.stdinTTY ?? opts.terminal ?? false,
  });
  const io: CliIo = {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
        return true;
      },
      isTTY: opts.terminal ?? false,
    },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
        return true;
      },
      isTTY: opts.terminal ?? false,
    },
    stdin,
    env: opts.env ?? {},
    cwd: process.cwd(),
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}
