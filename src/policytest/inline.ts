/** An inventory from the images and containers a policy test writes out. Pure: `now` is given. */
import { createHash } from 'node:crypto';
import type { ContainerRecord, ImageRecord, Inventory } from '../inventory/types.js';
import { parseSize } from '../policy/units.js';
import type { InlineContainer, InlineImage } from './load.js';

const DAY = 86_400_000;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Each image gets its parent's layers and one of its own (`size`, default 100MB), so deleting it frees what
 * a real engine would. Defaults: created 30 days before `now`, first seen when created, last used when first seen.
 */
export function inlineInventory(images: InlineImage[], containers: InlineContainer[], now: number): Inventory {
  const iso = (ms: number) => new Date(ms).toISOString();
  const ids = images.map((img, i) =>
    img.id ? `sha256:${img.id.replace(/^sha256:/, '')}` : `sha256:${sha(img.refs?.[0] ?? `image ${i}`)}`,
  );
  const byName = new Map<string, number>();
  images.forEach((img, i) => {
    for (const name of [...(img.refs ?? []), ids[i]!, ids[i]!.slice(7), img.id ?? `#${i}`]) byName.set(name, i);
  });
  const layers = new Map<number, { digest: string; size: number }[]>();
  const layersOf = (i: number, seen: Set<number> = new Set()): { digest: string; size: number }[] => {
    const done = layers.get(i);
    if (done) return done;
    const img = images[i]!;
    const parent = img.parent === undefined ? undefined : byName.get(img.parent);
    // A loop of parents (a written mistake) ends at the image seen twice.
    const below = parent === undefined || seen.has(parent) ? [] : layersOf(parent, new Set([...seen, i]));
    const own = { digest: `sha256:${sha(`layer of ${ids[i]!}`)}`, size: parseSize(img.size ?? '100MB') ?? 0 };
    const all = [...below, own];
    layers.set(i, all);
    return all;
  };
  const records: ImageRecord[] = images.map((img, i) => {
    const l = layersOf(i);
    const parent = img.parent === undefined ? undefined : byName.get(img.parent);
    return {
      id: ids[i]!,
      parentId: parent === undefined || parent === i ? null : ids[parent]!,
      repoTags: (img.refs ?? []).filter((r) => !r.includes('@')),
      repoDigests: (img.refs ?? []).filter((r) => r.includes('@')),
      created: img.created ?? iso(now - 30 * DAY),
      size: l.reduce((n, x) => n + x.size, 0),
      sharedSize: null,
      labels: img.labels ?? {},
      layers: l,
    };
  });
  const usage: Inventory['usage'] = {};
  images.forEach((img, i) => {
    const firstSeen = img.firstSeen ?? records[i]!.created;
    usage[ids[i]!] = { firstSeen, lastUsed: img.lastUsed ?? firstSeen, source: 'policy test' };
  });
  const running = new Set(['running', 'paused', 'restarting']);
  const containerRecords: ContainerRecord[] = containers.map((c, i) => {
    const image = ids[byName.get(c.image)!]!;
    const created = iso(now - 2 * DAY);
    return {
      id: sha(`container ${c.name ?? i}`),
      names: c.name ? [c.name] : [],
      imageId: image,
      image: c.image,
      state: c.state,
      created,
      startedAt: c.state === 'created' ? null : created,
      finishedAt: running.has(c.state) || c.state === 'created' ? null : (c.finished ?? iso(now - DAY)),
      mountImageIds: [],
    };
  });
  // What the test says registries answer for each image's digests; an image without `restorable` is not asked.
  const answers: NonNullable<Inventory['registry']>['answers'] = {};
  images.forEach((img, i) => {
    if (img.restorable === undefined) return;
    for (const ref of records[i]!.repoDigests) {
      const registry =
        ref.includes('/') && /[.:]|^localhost$/.test(ref.split('/')[0]!) ? ref.split('/')[0]! : 'docker.io';
      answers[ref] = { status: img.restorable ? 'present' : 'absent', registry, reason: null, at: iso(now) };
    }
  });
  return {
    kind: 'imgsweep-inventory',
    version: 1,
    capturedAt: iso(now),
    engine: {
      key: 'policy-test',
      id: 'POLICY:TEST',
      name: 'policy-test',
      kind: 'docker',
      version: 'policy test',
      apiVersion: '1.41',
      rootDir: '/var/lib/docker',
      driver: 'overlay2',
      imageStore: 'classic',
      host: 'policy test',
    },
    images: records,
    containers: containerRecords,
    usage,
    registry: { answers },
  };
}
