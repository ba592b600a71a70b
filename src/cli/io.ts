/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): boolean; isTTY?: boolean };
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
