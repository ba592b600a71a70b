import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

type ValueOf<O> = O extends { type: 'boolean'; multiple: true }
  ? boolean[]
  : O extends { type: 'boolean' }
    ? boolean
    : O extends { multiple: true }
      ? string[]
      : string;
export type ParsedValues<T extends Options> = { [K in keyof T]?: ValueOf<T[K]> };

/** Options every engine-facing command accepts. */
export const COMMON_OPTIONS = {
  host: { type: 'string', multiple: true },
  context: { type: 'string', multiple: true },
  'tls-verify': { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  inventory: { type: 'string' },
  now: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
  timeout: { type: 'string' },
  'registry-check': { type: 'string' },
  'registry-timeout': { type: 'string' },
} as const satisfies Options;

/** parseArgs with usage errors that name the command. */
export function parseCommandArgs<T extends Options>(
  command: string,
  args: string[],
  options: T,
): { values: ParsedValues<T>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/\. To specify a positional argument.*$/s, '') : String(err);
    throw new UsageError(`${command}: ${msg} (see imgsweep help ${command})`, { cause: err });
  }
}

/** --now ISO, or the real clock. */
export function parseNow(text: string | undefined, clock: () => number = Date.now): number {
  if (text === undefined) return clock();
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms))
    throw new UsageError(`--now: "${text}" is not an ISO date-time (example: 2026-11-27T12:00:00Z)`);
  return ms;
}

/** --host given zero or more times: the engines to work on (undefined: DOCKER_HOST or the local socket). */
export function hostsOf(hosts: string[] | undefined): (string | undefined)[] {
  if (!hosts || hosts.length === 0) return [undefined];
  const unique = [...new Set(hosts)];
  if (unique.length !== hosts.length) throw new UsageError('--host: the same engine is named twice');
  return unique;
}
