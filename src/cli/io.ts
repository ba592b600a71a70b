import { escapeControls } from '../report/escape.js';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  /** `writeRaw`, where there is one, passes imgsweep's own terminal sequences (the progress bar) through. */
  stderr: { write(chunk: string): boolean; isTTY?: boolean; writeRaw?(chunk: string): boolean };
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
  return {
    ...io,
    stdout: {
      write: (chunk) => io.stdout.write(escapeControls(chunk)),
      isTTY: io.stdout.isTTY,
      columns: io.stdout.columns,
    },
    stderr: {
      write: (chunk) => io.stderr.write(escapeControls(chunk)),
      isTTY: io.stderr.isTTY,
      writeRaw: (chunk) => io.stderr.write(chunk),
    },
  };
}
