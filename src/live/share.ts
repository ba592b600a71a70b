/**
 * Which images' layers must be read for an exact reclaim estimate, and the layers of the rest, inferred from
 * the engine's own accounting (Docker's /system/df, graph-driver store) instead of two calls per image.
 *
 * What df gives per image: its size and its shared bytes, the sum of its layers that another listed image
 * also uses. A layer is a diff on a stack (a chain ID), so an image's shared layers are always a bottom part
 * of its stack: it ends at the image's deepest shared layer, where the stack's running size equals the image's
 * shared bytes. Once some images are read, an unread image whose shared bytes equal the running size at
 * exactly one non-empty layer of the read stacks shares that stack up to there; the rest of it is its own.
 *
 * That inference is checked as a whole: the read stacks plus every unread image's own bytes must add up to
 * df's LayersSize. Any layer two unread images share outside the read stacks would make the sum short, and
 * without such a layer every unread image's shared part lies in the read stacks, where its match is the
 * only one there is. When the sum does not hold, or the sizes cannot be matched, the images are read.
 */

export interface Layer {
  digest: string;
  size: number;
}

/** One image as the engine's disk accounting lists it. */
export interface ShareFacts {
  id: string;
  size: number;
  shared: number;
}

export type InferStep =
  /** Read these images' layers, then ask again. */
  | { read: string[] }
  /** Every image's layers: read, or inferred (shared stack + one private layer of the rest). */
  | { layers: Map<string, Layer[]> };

const AMBIGUOUS = -2;

/** The read stacks as a tree of layers (a layer per chain: the same diff on another stack is another layer). */
class Stacks {
  readonly parent: number[] = [];
  readonly digest: string[] = [];
  readonly size: number[] = [];
  /** Deepest non-empty layer at or under each layer (-1: none); an empty layer changes nothing freed. */
  readonly anchor: number[] = [];
  private readonly index = new Map<string, number>();
  /** Running size -> the one non-empty layer whose stack has it, or AMBIGUOUS. */
  readonly byRunning = new Map<number, number>();
  private readonly running: number[] = [];

  add(layers: Layer[]): void {
    let under = -1;
    for (const l of layers) {
      const key = `${under} ${l.digest}`;
      let at = this.index.get(key);
      if (at === undefined) {
        at = this.parent.length;
        this.index.set(key, at);
        this.parent.push(under);
        this.digest.push(l.digest);
        this.size.push(l.size);
        const running = (under < 0 ? 0 : this.running[under]!) + l.size;
        this.running.push(running);
        const anchor = l.size > 0 ? at : under < 0 ? -1 : this.anchor[under]!;
        this.anchor.push(anchor);
        if (anchor >= 0) {
          const seen = this.byRunning.get(running);
          this.byRunning.set(running, seen === undefined || seen === anchor ? anchor : AMBIGUOUS);
        }
      }
      under = at;
    }
  }

  /** The stack from the bottom up to layer `at`. */
  stack(at: number): Layer[] {
    const out: Layer[] = [];
    for (let n = at; n >= 0; n = this.parent[n]!) out.push({ digest: this.digest[n]!, size: this.size[n]! });
    return out.reverse();
  }

  bytes(): number {
    return this.size.reduce((s, x) => s + x, 0);
  }
}

/**
 * One step of the inference. `read` holds the layers read so far; `last` asks for every image that is still
 * unresolved at once (no more rounds). `privateLayer(id, bytes)` names an image's own bytes as one layer.
 */
export function inferLayers(
  facts: readonly ShareFacts[],
  read: ReadonlyMap<string, Layer[]>,
  layersSize: number,
  last: boolean,
  privateLayer: (id: string, bytes: number) => Layer,
): InferStep {
  const stacks = new Stacks();
  for (const f of facts) {
    const layers = read.get(f.id);
    if (layers) stacks.add(layers);
  }
  const inferred = new Map<string, number>();
  const unmatched: ShareFacts[] = [];
  const ambiguous: string[] = [];
  for (const f of facts) {
    if (read.has(f.id) || f.shared === 0) continue;
    const at = f.shared > f.size ? undefined : stacks.byRunning.get(f.shared);
    if (at === undefined) unmatched.push(f);
    else if (at === AMBIGUOUS) ambiguous.push(f.id);
    else inferred.set(f.id, at);
  }
  if (unmatched.length > 0 || ambiguous.length > 0) {
    if (last) return { read: [...unmatched.map((f) => f.id), ...ambiguous] };
    // One image per unmatched shared size: reading it adds the stack the others with that size likely share.
    // Another read cannot settle an ambiguous match (it only adds layers): those are read themselves.
    const bySize = new Map<number, string>();
    for (const f of unmatched) if (!bySize.has(f.shared)) bySize.set(f.shared, f.id);
    return { read: [...bySize.values(), ...ambiguous] };
  }
  let own = 0;
  for (const f of facts) if (!read.has(f.id)) own += f.size - f.shared;
  if (stacks.bytes() + own !== layersSize) {
    const rest = facts.filter((f) => !read.has(f.id) && f.shared > 0).map((f) => f.id);
    if (rest.length > 0) return { read: rest };
  }
  const layers = new Map<string, Layer[]>();
  for (const f of facts) {
    const known = read.get(f.id);
    if (known) {
      layers.set(f.id, known);
      continue;
    }
    const at = inferred.get(f.id);
    const shared = at === undefined ? [] : stacks.stack(at);
    const mine = f.size - f.shared;
    layers.set(f.id, mine > 0 || shared.length === 0 ? [...shared, privateLayer(f.id, mine)] : shared);
  }
  return { layers };
}
