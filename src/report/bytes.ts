/** Human units, SI like `docker images` shows them: 1500 -> "1.5 kB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** An estimate in human units, "unknown" when there is none (deleting nothing frees nothing, estimate or not). */
export function formatEstimate(bytes: number | null | undefined, deletes = 1): string {
  return bytes === null || bytes === undefined ? (deletes === 0 ? formatBytes(0) : 'unknown') : formatBytes(bytes);
}
