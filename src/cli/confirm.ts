import { createInterface } from 'node:readline';
import type { CliIo } from './io.js';

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(io: CliIo, question: string, abort?: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream, terminal: false });
  const close = () => rl.close();
  abort?.addEventListener('abort', close, { once: true });
  try {
    io.stderr.write(question);
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    abort?.removeEventListener('abort', close);
    rl.close();
  }
}

/** A one-line progress bar on a terminal; step lines are printed above it. */
export class Progress {
  private shown = false;
  constructor(
    private readonly out: CliIo['stderr'],
    readonly enabled: boolean,
  ) {}

  /** The bar's own sequences (carriage return, clear line) go out as they are. */
  private write(chunk: string): void {
    if (this.out.writeRaw) this.out.writeRaw(chunk);
    else this.out.write(chunk);
  }

  update(finished: number, total: number): void {
    if (!this.enabled || total === 0) return;
    const width = 30;
    const filled = Math.round((finished / total) * width);
    this.write(`\r\x1b[K[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${finished}/${total}`);
    this.shown = true;
  }

  /** Clears the bar so a line can be written. */
  clear(): void {
    if (this.shown) this.write('\r\x1b[K');
    this.shown = false;
  }
}
