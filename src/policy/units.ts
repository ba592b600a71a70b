/** Parsing of the policy's duration, size and percentage strings (already pattern-checked by the schema). */

const DURATION_UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export const DURATION_EXAMPLES = '90m, 3d, 1d12h';

/** "1d12h" -> 129600000; null when not a duration. */
export function parseDuration(text: string): number | null {
  if (!/^(\d+[smhdw])+$/.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  return Number.isSafeInteger(ms) ? ms : null;
}

/** 129600000 -> "1d12h": the largest units first, as a policy would write it; "0s" for nothing. */
export function formatDuration(ms: number): string {
  let rest = ms;
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's']) {
    const size = DURATION_UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out || '0s';
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  PB: 1e15,
  KiB: 2 ** 10,
  kiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
};

export const SIZE_EXAMPLES = '500MB, 2GiB, 40GB';

/** "2GiB" -> 2147483648; null when not a size with an explicit unit. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?) ?([kKMGTP]i?B|B)$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!];
  if (unit === undefined) return null;
  const bytes = Math.round(Number(m[1]) * unit);
  // Past 2^53 bytes (8 PiB) a count of bytes is no longer exact.
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** "85%" -> 0.85 */
export function parsePercent(text: string): number | null {
  const m = /^(\d{1,3}(?:\.\d+)?)%$/.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return v >= 0 && v <= 100 ? v / 100 : null;
}
