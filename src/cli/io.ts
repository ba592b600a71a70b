import { escapeControls } from '../report/escape.js';
import { StatusLine } from './status-line.js';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  /** The live progress line, when stderr is a terminal (safeIo makes it). */
  status?: StatusLine;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * Lines gathered and written once per turn of the event loop: a write to a pipe or file is synchronous, and a
 * run of hundreds of steps would otherwise make one system call per line while engine answers wait.
 */
export class LineBatch {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly out: { write(chunk: string): boolean }) {}

  write(line: string): void {
    this.lines.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    this.out.write(text);
  }
}

/**
 * The same outside world, with every control character in what commands write shown as \uXXXX: engine names and
 * errors, labels and policy names reach the output, and none of them may move the cursor, ring or reorder text.
 */
export function safeIo(io: CliIo): CliIo {
  const status = io.stderr.isTTY
    ? new StatusLine(
        (chunk) => io.stderr.write(chunk),
        () => io.stderr.columns,
      )
    : undefined;
  // Text for the terminal goes above the status line; stdout elsewhere (a pipe, a file) does not touch it.
  const onTerminal = (write: () => boolean) => (status ? status.around(write) : write());
  return {
    ...io,
    stdout: {
      write: (chunk) =>
        io.stdout.isTTY
          ? onTerminal(() => io.stdout.write(escapeControls(chunk)))
          : io.stdout.write(escapeControls(chunk)),
      isTTY: io.stdout.isTTY,
      columns: io.stdout.columns,
    },
    stderr: {
      write: (chunk) => onTerminal(() => io.stderr.write(escapeControls(chunk))),
      isTTY: io.stderr.isTTY,
      columns: io.stderr.columns,
    },
    status,
  };
}
