/**
 * What the fault suites record for docs/reliability.md: one JSON line per run of a fault, appended to the file
 * IMGSWEEP_RELIABILITY_OUT names (scripts/reliability.mjs sets it, runs the suites and renders the table).
 * Without it, nothing is written: the suites' own assertions are what fails a run.
 */
import { appendFileSync } from 'node:fs';

export interface FaultRun {
  /** The fault as the table names it ("reset after forwarding: DELETE /images/{id}"). */
  fault: string;
  engine: 'docker' | 'podman';
  /** Steps in the plan. */
  steps: number;
  /** Steps whose record (output, audit log) disagrees with the engine, or that were done and not recorded. */
  lost: number;
  /** A rerun reached the plan's end state. */
  converged: boolean;
  exitCode: number;
}

export function recordRun(run: FaultRun): void {
  const out = process.env.IMGSWEEP_RELIABILITY_OUT;
  if (out) appendFileSync(out, `${JSON.stringify(run)}\n`);
}
