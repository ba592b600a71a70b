/** SIGINT and SIGTERM during a run that changes the engine. */
import { constants } from 'node:os';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface Interrupt {
  /** The first signal caught, or null. */
  readonly caught: StopSignal | null;
  /** Aborted on the first signal (for a prompt that waits). */
  readonly signal: AbortSignal;
  dispose(): void;
}

/** 130 for SIGINT, 143 for SIGTERM: what a shell reports for a process the signal ended. */
export const exitCodeOf = (s: StopSignal): number => 128 + constants.signals[s];

/**
 * The first signal asks the run to stop: no new step starts, the steps under way finish, and the run reports,
 * writes its metrics and releases its lock. A second one ends the process at once.
 */
export function watchSignals(say: (line: string) => void): Interrupt {
  const controller = new AbortController();
  let caught: StopSignal | null = null;
  const on = (s: StopSignal) => {
    if (caught !== null) process.exit(exitCodeOf(s));
    caught = s;
    say(`imgsweep: ${s}: finishing the steps under way and starting no more (send it again to exit at once)\n`);
    controller.abort();
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    get caught() {
      return caught;
    },
    signal: controller.signal,
    dispose() {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    },
  };
}
