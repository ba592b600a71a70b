import { UsageError } from '../../errors.js';
import { defaultStateDir } from '../../state-dir.js';
import { parseDuration } from '../../policy/units.js';
import { watchUsage } from '../../usage/watch.js';
import { parseCommandArgs } from '../args.js';
import { openEngine } from '../context.js';
import type { CliIo } from '../io.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  host: { type: 'string' },
  context: { type: 'string' },
  'tls-verify': { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'state-dir': { type: 'string' },
  'flush-interval': { type: 'string' },
  timeout: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
} as const;

/** Long-running: records image use from the engine's event stream until SIGTERM/SIGINT. Never deletes. */
export async function watchCommand(args: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseCommandArgs('watch', args, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`watch: unexpected argument "${positionals[0]}"`);
  const flushMs = parseDuration(values['flush-interval'] ?? '5s');
  if (flushMs === null || flushMs === 0)
    throw new UsageError(`--flush-interval: "${values['flush-interval']}" is not a duration (examples: 5s, 1m)`);
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal?.addEventListener('abort', stop, { once: true });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const engine = await openEngine(values, io);
  try {
    const result = await watchUsage(engine, {
      stateDir: values['state-dir'] ?? defaultStateDir(io.env),
      signal: controller.signal,
      flushMs,
      clock: Date.now,
      log: (m) => {
        if (!values.quiet) io.stderr.write(`imgsweep watch: ${m}\n`);
      },
    });
    if (!values.quiet)
      io.stderr.write(`imgsweep watch: stopped after ${result.events} events, ${result.flushes} flushes\n`);
    return 0;
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
    engine.close();
  }
}
