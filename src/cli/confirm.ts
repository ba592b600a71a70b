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
