/** Per-layer sizes: RootFS layer digests zipped with the image history (the only per-layer sizes the API gives). */
import { asArray, asObj, isObj, optNum, optStr } from './shape.js';

interface HistoryEntry {
  size: number;
  createdBy: string;
}

// Instructions that only change the config; their history entries carry no layer.
const METADATA =
  /^(?:\/bin\/sh -c )?(?:#\(nop\)\s*)?(LABEL|ENV|CMD|ENTRYPOINT|EXPOSE|USER|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL|VOLUME|MAINTAINER)\b/i;

function looksEmpty(entry: HistoryEntry): boolean {
  return entry.size === 0 && (entry.createdBy.includes('#(nop)') || METADATA.test(entry.createdBy.trim()));
}

/** History oldest first (the API answers newest first). */
export function parseHistory(raw: unknown): HistoryEntry[] {
  return asArray(raw, 'image history')
    .map((item, i) => {
      const o = asObj(item, `history[${i}]`);
      return {
        size: Math.max(optNum(o, 'Size', `history[${i}]`) ?? 0, 0),
        createdBy: optStr(o, 'CreatedBy', `history[${i}]`) ?? '',
      };
    })
    .reverse();
}

export function rootfsLayers(inspect: unknown): string[] {
  const o = asObj(inspect, 'image inspect');
  const rootfs = isObj(o.RootFS) ? o.RootFS : {};
  return asArray(rootfs.Layers ?? [], 'image inspect.RootFS.Layers').filter((l): l is string => typeof l === 'string');
}

/**
 * History has one entry per instruction, layers only for some, and no flag saying which (EmptyLayer is not in
 * the API). A non-zero size is always a layer; a zero-size entry may be an empty layer (e.g. a RUN that changed
 * nothing) or none. Only where that stays ambiguous are sizes an estimate: the sizes in order, zeros after.
 */
export function zipLayers(layers: string[], history: HistoryEntry[]): { digest: string; size: number }[] {
  const pick = (entries: HistoryEntry[]): { digest: string; size: number }[] =>
    layers.map((digest, i) => ({ digest, size: entries[i]?.size ?? 0 }));
  if (history.length === layers.length) return pick(history);
  const nonEmpty = history.filter((e) => e.size > 0);
  if (nonEmpty.length === layers.length) return pick(nonEmpty);
  const likely = history.filter((e) => !looksEmpty(e));
  if (likely.length === layers.length) return pick(likely);
  return pick(nonEmpty);
}
