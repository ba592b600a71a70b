/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): boolean; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}
