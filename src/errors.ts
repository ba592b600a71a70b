/** The closed set of error classes imgsweep reports. Each has a code and an exit status. */

export type ErrorCode = 'POLICY' | 'USAGE' | 'INPUT' | 'IO' | 'ENGINE_UNAVAILABLE' | 'ENGINE' | 'REFUSED' | 'INTERNAL';

export class ImgsweepError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command-line usage. */
export class UsageError extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, 2, options);
  }
}

/** An invalid policy; the message holds the positioned problems, one per line. */
export class PolicyInvalid extends ImgsweepError {
  constructor(message: string) {
    super('POLICY', message, 2);
  }
}

/** A file (plan, inventory, state) that is not what it claims to be. */
export class InputError extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT', message, 2, options);
  }
}

/** A file imgsweep must write (the audit log) could not be written: a fault of the run, not of its input. */
export class IoError extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, 1, options);
  }
}

/** The engine could not be reached; the message names what was tried, and how to point elsewhere. */
export class EngineUnavailable extends ImgsweepError {
  /** The message without the advice (for a log that repeats it). */
  readonly brief: string;
  constructor(message: string, options?: { cause?: unknown; brief?: string }) {
    super('ENGINE_UNAVAILABLE', message, 1, options);
    this.brief = options?.brief ?? message;
  }
}

/** The engine answered something we cannot use. */
export class EngineError extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENGINE', message, 1, options);
  }
}

/** Refused for safety: a limit, a foreign or stale plan, a held lock. */
export class PlanRefused extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REFUSED', message, 3, options);
  }
}

export class InternalError extends ImgsweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, 1, options);
  }
}
