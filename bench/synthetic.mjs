/**
 * Deterministic synthetic inventories for benchmarks: syntheticInventory(n, seed) -> Inventory.
 *
 * Shape, per n images: ~n/20 repositories under a few registries, ~3 references per image (tags, some
 * digests, ~12% untagged), n/2 containers on distinct images (running, exited, created, a few paused),
 * legacy parent chains (~20% of images have an earlier parent; a child's layers extend its parent's),
 * layers drawn from a shared base pool, labels, created times over 90 days, a usage entry for ~85%.
 * Run directly for a quick summary: node bench/synthetic.mjs 10000
 *
 * Options (the defaults give the shape above; other choices change nothing else, same seed, same images):
 *   layers: false          images carry no layer lists (sizes and the disk figures are the same)
 *   containers: N          N containers instead of n/2
 *   sourceLabels: false    no org.opencontainers.image.source/revision labels (no policy looks at them)
 *   usageSource: false     usage entries without their informational `source`
 */

export const NOW = Date.parse('2026-11-27T12:00:00Z');
const DAY = 86_400_000;
const MB = 1_000_000;

/** sfc32: small, fast, seedable. */
function prng(seed) {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return r >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  const float = () => next() / 4294967296;
  return {
    float,
    int: (lo, hi) => lo + Math.floor(float() * (hi - lo + 1)),
    chance: (p) => float() < p,
    pick: (list) => list[Math.floor(float() * list.length)],
    hex: (len) => {
      let s = '';
      while (s.length < len) s += next().toString(16).padStart(8, '0');
      return s.slice(0, len);
    },
  };
}

const REGISTRIES = [
  // [prefix, share, kind]: ci repositories get pr-/sha- tags, the others release tags.
  ['registry.acme.io/ci/', 0.4, 'ci'],
  ['registry.acme.io/base/', 0.05, 'release'],
  ['ghcr.io/acme/', 0.2, 'release'],
  ['', 0.1, 'release'], // Docker Hub official: nginx-like names
  ['acme/', 0.1, 'ci'], // Docker Hub user repositories
  ['127.0.0.1:5000/', 0.1, 'ci'],
  ['localhost/', 0.05, 'release'], // Podman-style local builds
];

function makeRepositories(count, r) {
  const repos = [];
  for (let i = 0; i < count; i++) {
    let x = r.float();
    const [prefix, , kind] = REGISTRIES.find(([, share]) => (x -= share) < 0) ?? REGISTRIES[0];
    repos.push({ name: `${prefix}svc${i}`, kind, counter: 0, latest: false, stable: false });
  }
  return repos;
}

/** Unique tags for one image in `repo` (a repo:tag names one image). */
function tagsFor(repo, count, r) {
  const tags = [];
  for (let k = 0; k < count; k++) {
    const n = ++repo.counter;
    if (repo.kind === 'ci') {
      const t = r.pick(['pr', 'pr', 'sha', 'main', 'build']);
      tags.push(t === 'sha' ? `sha-${r.hex(7)}` : `${t}-${n}${r.chance(0.03) ? '-pinned' : ''}`);
    } else if (!repo.latest && r.chance(0.3)) {
      repo.latest = true;
      tags.push('latest');
    } else if (!repo.stable && r.chance(0.1)) {
      repo.stable = true;
      tags.push('stable');
    } else tags.push(r.chance(0.6) ? `v${Math.floor(n / 100)}.${Math.floor(n / 10) % 10}.${n % 10}` : `${n}-rc`);
  }
  return tags;
}

export function syntheticInventory(
  n,
  seed = 1,
  {
    layers: withLayers = true,
    containers: containerCount = Math.floor(n / 2),
    sourceLabels = true,
    usageSource = true,
  } = {},
) {
  const r = prng(seed);
  const repos = makeRepositories(Math.max(5, Math.round(n / 20)), r);
  const pool = Array.from({ length: Math.max(20, Math.round(n / 50)) }, () => ({
    digest: `sha256:${r.hex(64)}`,
    size: r.int(2, 80) * MB,
  }));
  const start = NOW - 90 * DAY;
  const images = [];
  // Distinct layers: the pool layers used, and every image's own new layers (no two share a digest).
  const poolUsed = new Set();
  let ownBytes = 0;
  const sum = (list) => list.reduce((s, l) => s + l.size, 0);
  for (let i = 0; i < n; i++) {
    const created = start + Math.floor(((i + r.float()) / n) * 90 * DAY); // in creation order
    const parent = i > 0 && r.chance(0.2) ? images[r.int(Math.max(0, i - 1000), i - 1)] : null;
    const base = parent
      ? []
      : [pool[r.int(0, Math.min(9, pool.length - 1))], ...Array.from({ length: r.int(0, 2) }, () => r.pick(pool))];
    for (const l of base) poolUsed.add(l);
    const own = [];
    for (let k = r.int(1, parent ? 2 : 4); k > 0; k--)
      own.push({ digest: `sha256:${r.hex(64)}`, size: r.int(1_000, 200 * MB) });
    ownBytes += sum(own);
    // A child's layers extend its parent's.
    const size = (parent ? parent.size : sum(base)) + sum(own);
    const layers = withLayers ? [...(parent ? parent.layers : base), ...own] : undefined;
    const repoTags = [];
    const repoDigests = [];
    if (r.chance(0.88)) {
      const repo = r.pick(repos);
      for (const t of tagsFor(repo, r.int(1, 3), r)) repoTags.push(`${repo.name}:${t}`);
      if (r.chance(0.3)) {
        const mirror = r.pick(repos);
        if (mirror !== repo) for (const t of tagsFor(mirror, 1, r)) repoTags.push(`${mirror.name}:${t}`);
      }
      for (let k = r.int(0, 2); k > 0; k--) repoDigests.push(`${repo.name}@sha256:${r.hex(64)}`);
    } else if (r.chance(0.3)) repoDigests.push(`${r.pick(repos).name}@sha256:${r.hex(64)}`); // digest-only
    const labels = sourceLabels ? { 'org.opencontainers.image.source': `https://git.acme.io/svc/${i % 997}` } : {};
    if (r.chance(0.5)) {
      const revision = r.hex(40);
      if (sourceLabels) labels['org.opencontainers.image.revision'] = revision;
    }
    if (r.chance(0.03)) labels['com.acme.keep'] = 'true';
    if (r.chance(0.1)) labels.tier = r.pick(['prod', 'dev', 'staging']);
    const image = {
      id: `sha256:${r.hex(64)}`,
      parentId: parent ? parent.id : null,
      repoTags,
      repoDigests,
      created: new Date(created).toISOString(),
      size,
      sharedSize: null,
      labels,
      createdMs: created, // stripped below
    };
    if (layers) image.layers = layers;
    images.push(image);
  }

  const capturedAt = NOW - 3_600_000;
  const usage = {};
  for (const img of images) {
    if (!r.chance(0.85)) continue;
    const firstSeen = Math.min(capturedAt, img.createdMs + r.int(0, 2 * DAY));
    const lastUsed = firstSeen + Math.floor(r.float() * (capturedAt - firstSeen));
    const source = r.pick(['container', 'event', 'first-seen']);
    usage[img.id] = { firstSeen: new Date(firstSeen).toISOString(), lastUsed: new Date(lastUsed).toISOString() };
    if (usageSource) usage[img.id].source = source;
  }
  for (let k = Math.round(n / 100); k > 0; k--)
    usage[`sha256:${r.hex(64)}`] = {
      firstSeen: new Date(start).toISOString(),
      lastUsed: new Date(start + DAY).toISOString(),
    }; // images that are gone

  // n/2 containers, each on a distinct image (a partial Fisher-Yates shuffle picks them).
  const order = images.map((_, i) => i);
  const containers = [];
  for (let i = 0; i < Math.min(containerCount, n); i++) {
    const j = r.int(i, n - 1);
    [order[i], order[j]] = [order[j], order[i]];
    const img = images[order[i]];
    const state =
      r.float() < 0.3 ? 'running' : r.pick(['exited', 'exited', 'exited', 'exited', 'exited', 'created', 'paused']);
    const created = img.createdMs + Math.floor(r.float() * (capturedAt - img.createdMs));
    const started = state === 'created' ? null : created + r.int(1_000, 60_000);
    const finished = state === 'exited' ? started + Math.floor(r.float() * (capturedAt - started)) : null;
    containers.push({
      id: r.hex(64),
      names: [`job-${i}`],
      imageId: img.id,
      image: img.repoTags[0] ?? img.id,
      state,
      created: new Date(created).toISOString(),
      startedAt: started === null ? null : new Date(started).toISOString(),
      finishedAt: finished === null ? null : new Date(finished).toISOString(),
      mountImageIds: r.chance(0.01) ? [r.pick(images).id] : [],
    });
  }
  for (const img of images) delete img.createdMs;

  // The disk is 90% full and the layers are 80% of it: ci-runner's maxUsage 85% triggers eviction.
  const totalBytes = Math.round((sum([...poolUsed]) + ownBytes) / 0.8);
  return {
    kind: 'imgsweep-inventory',
    version: 1,
    capturedAt: new Date(capturedAt).toISOString(),
    engine: {
      key: '5f3c9a1e7b2d4c60',
      id: 'BENCH:SYNTHETIC',
      name: `synthetic-${n}`,
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
    usage,
    disk: { totalBytes, usedBytes: Math.round(totalBytes * 0.9), path: '/var/lib/docker' },
  };
}

/** Counts that show the shape is as described. */
export function describe(inv) {
  const refs = inv.images.reduce((s, i) => s + i.repoTags.length + i.repoDigests.length, 0);
  const repos = new Set(inv.images.flatMap((i) => i.repoTags.map((t) => t.slice(0, t.lastIndexOf(':')))));
  const used = new Set(inv.containers.map((c) => c.imageId));
  const layers = inv.images.reduce((s, i) => s + (i.layers?.length ?? 0), 0);
  const distinct = new Set(inv.images.flatMap((i) => (i.layers ?? []).map((l) => l.digest))).size;
  return {
    images: inv.images.length,
    refsPerImage: +(refs / inv.images.length).toFixed(2),
    untagged: inv.images.filter((i) => i.repoTags.length === 0).length,
    repositories: repos.size,
    containers: inv.containers.length,
    imagesUsed: used.size,
    withParent: inv.images.filter((i) => i.parentId).length,
    layersPerImage: +(layers / inv.images.length).toFixed(2),
    distinctLayers: distinct,
    usageEntries: Object.keys(inv.usage).length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(describe(syntheticInventory(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 1))));
}
