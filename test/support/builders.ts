import { createHash } from 'node:crypto';
import type {
  BuildCacheRecord,
  ContainerRecord,
  ContainerState,
  ImageRecord,
  Inventory,
} from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/types.js';

/** Plain-data builders for planner tests: no engine, no clock. */

export const NOW = Date.parse('2026-11-27T12:00:00Z');

export function ago(spec: string, from = NOW): string {
  const m = /^(\d+)([smhdw])$/.exec(spec);
  if (!m) throw new Error(`bad ago: ${spec}`);
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 's'];
  return new Date(from - Number(m[1]) * unit).toISOString();
}

export function idOf(name: string): string {
  return `sha256:${createHash('sha256').update(name).digest('hex')}`;
}

export function image(
  name: string,
  opts: Partial<ImageRecord> & { tags?: string[]; digests?: string[]; age?: string; parent?: string } = {},
): ImageRecord {
  const { tags, digests, age, parent, ...rest } = opts;
  return {
    id: idOf(name),
    parentId: parent ? idOf(parent) : null,
    repoTags: tags ?? [],
    repoDigests: digests ?? [],
    created: ago(age ?? '30d'),
    size: 100_000_000,
    sharedSize: null,
    labels: {},
    ...rest,
  };
}

export function container(
  name: string,
  imageName: string,
  state: ContainerState,
  opts: Partial<ContainerRecord> & { finished?: string } = {},
): ContainerRecord {
  const { finished, ...rest } = opts;
  return {
    id: idOf(`container:${name}`).slice(7),
    names: [name],
    imageId: idOf(imageName),
    image: imageName,
    state,
    created: ago('20d'),
    startedAt: state === 'created' ? null : ago('20d'),
    finishedAt: finished ? ago(finished) : state === 'running' || state === 'created' ? null : ago('10d'),
    mountImageIds: [],
    ...rest,
  };
}

export function inventory(
  images: ImageRecord[],
  containers: ContainerRecord[] = [],
  extra: Partial<Inventory> = {},
): Inventory {
  return {
    kind: 'imgsweep-inventory',
    version: 1,
    capturedAt: new Date(NOW).toISOString(),
    engine: {
      key: '0123456789abcdef',
      id: 'TEST:ENGINE',
      name: 'test-host',
      kind: 'docker',
      version: '20.10.24',
      apiVersion: '1.41',
      rootDir: '/var/lib/docker',
      driver: 'overlay2',
      imageStore: 'classic',
      host: 'unix:///var/run/docker.sock',
    },
    images,
    containers,
    usage: {},
    ...extra,
  };
}

/** Parses a policy from YAML text; throws with the positioned problems when invalid. */
export function policy(yaml: string): Policy {
  const r = parsePolicy(yaml, 'test.yaml');
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`).join('\n'));
  return r.policy;
}

/**
 * Gives each image the layers a parent chain stores: its parent's, then one of its own (its size less its
 * parent's). Images that share nothing but their chains then have the bytes their sizes suggest.
 */
export function layered(images: ImageRecord[]): ImageRecord[] {
  const byId = new Map(images.map((i) => [i.id, i]));
  const memo = new Map<string, { digest: string; size: number }[]>();
  const layersOf = (i: ImageRecord, depth = 0): { digest: string; size: number }[] => {
    const known = i.layers ?? memo.get(i.id);
    if (known) return known;
    const parent = i.parentId && depth < images.length ? byId.get(i.parentId) : undefined;
    const own = { digest: `sha256:own-${i.id.slice(7)}`, size: Math.max(0, i.size - (parent?.size ?? 0)) };
    const layers = [...(parent ? layersOf(parent, depth + 1) : []), own];
    memo.set(i.id, layers);
    return layers;
  };
  return images.map((i) => ({ ...i, layers: layersOf(i) }));
}

/** A BuildKit build-cache record: regular, private, unused, 1 kB, created 30 days ago; `used` as for ago(). */
export function cacheRecord(id: string, o: Partial<BuildCacheRecord> & { used?: string } = {}): BuildCacheRecord {
  const { used, ...rest } = o;
  return {
    id,
    parents: [],
    type: 'regular',
    description: `step ${id}`,
    inUse: false,
    shared: false,
    size: 1_000,
    createdAt: ago('30d'),
    lastUsedAt: used === undefined ? null : ago(used),
    usageCount: 1,
    ...rest,
  };
}
