/** The audit log: one JSON line appended per executed step. */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { IoError } from '../errors.js';

const APPEND =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'it is a symbolic link';
  return error instanceof Error ? error.message : String(error);
}

export class AuditLog {
  private writing: Promise<void> = Promise.resolve();
  /** Why a line could not be written, from the first failure on: the run then starts no more steps. */
  failure: string | null = null;

  private constructor(private readonly file: FileHandle) {}

  /**
   * Opens the log before any step, so that a log that cannot be written stops the run before it changes
   * anything. Never through a symbolic link (as root, that would append to whatever file it points at), and only
   * a regular file.
   */
  static async open(path: string): Promise<AuditLog> {
    let file: FileHandle | undefined;
    try {
      file = await open(path, APPEND, 0o600);
      if (!(await file.stat()).isFile()) throw new Error('it is not a regular file');
      return new AuditLog(file);
    } catch (error) {
      await file?.close().catch(() => undefined);
      throw new IoError(`cannot write the audit log ${path}: ${reason(error)}; no step was run`, { cause: error });
    }
  }

  /** Appends a line after those before it; a failure is kept in `failure`. */
  append(line: string): void {
    this.writing = this.writing.then(async () => {
      if (this.failure !== null) return;
      try {
        // A full disk may take part of a line, then refuse the rest: write until all of it went, or it fails.
        const data = Buffer.from(line);
        for (let at = 0; at < data.length;) at += (await this.file.write(data, at)).bytesWritten;
      } catch (error) {
        this.failure = reason(error);
      }
    });
  }

  /** Waits for the lines under way, closes, and gives the failure, if any. */
  async close(): Promise<string | null> {
    await this.writing;
    await this.file.close().catch(() => undefined);
    return this.failure;
  }
}
