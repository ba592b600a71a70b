/**
 * A deterministic, mixed image inventory on a test engine, built from a seed.
 *
 * Everything that can be loaded (plain images, parent/child chains, runnable busybox images, the seed of a
 * digest-only image) goes in ONE hand-built `docker load` archive whose bytes depend only on the seed and
 * `now`: the same options give the same image IDs on every daemon. Legacy-builder chains and containers
 * are made afterwards; their IDs differ between daemons, so every image has a stable *role* name
 * ("load-007", "chain1-head", "build-tagged~1"), and tests compare roles across daemons, not IDs.
 *
 * What it makes (see `describeInventory` for one run's list):
 * - `loaded` plain images: created well before or well after "48 hours ago" (never within 6 h of it),
 *   labels `keep=yes`, `team=a` or `team=b` on some, 0–3 tags each, spread over several repositories
 *   (so one image can be tagged in two repositories); the ones with no tag are dangling.
 * - `chains` loaded chains with a real ParentId (docker load restores the manifest's `Parent`), cycling
 *   through three shapes: 0 = all-untagged old chain (dangling head with untagged parents);
 *   1 = tagged root (team=a) → untagged middle (team=a) → tagged head (team=b, new);
 *   2 = untagged unlabelled root → tagged head labelled team=a (new).
 * - busybox (runnable) images: `bb-base` tagged `isw/busybox:s<seed>` and `mirror/busybox:s<seed>-extra` with
 *   a RUNNING container (the moby#36295 case), `bb-stopped` (two tags, a stopped container), `bb-unused`,
 *   `bb-dangling-running` and `bb-dangling-stopped` (untagged, used by a running / stopped container).
 * - legacy-builder chains FROM bb-base, each final image on an untagged intermediate: `build-tagged` (tagged),
 *   `build-branch` (untagged final on build-tagged's cached intermediate, which so has two children),
 *   `build-dangling` (untagged final: a dangling head), `build-used` (tagged, used by a stopped container).
 * - with a registry: `digest-only`, pushed and then pulled back by digest (RepoDigests, no tags).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { TestEngine } from './dockerd.js';
import { buildChild, layerTar, pullImage, pushImage, runContainer, type LayerSpec } from './fixtures.js';
import { drainProgress } from './progress.js';
import { busyboxRootfs } from './rootfs.js';
import { tarArchive, type TarEntry } from './tar.js';

export type ImageKind =
  /** hand-built archive, no parent */
  | 'loaded'
  /** hand-built archive loaded with a Parent */
  | 'chain'
  /** runnable: the host's busybox as its only layer */
  | 'busybox'
  /** final image of a legacy build */
  | 'built'
  /** untagged intermediate image of a legacy build */
  | 'intermediate'
  /** pulled by digest: a RepoDigest, no tag */
  | 'digest-only';

export interface GenImage {
  role: string;
  kind: ImageKind;
  /** Full "sha256:…" ID on this engine. */
  id: string;
  /** RepoTags as the engine lists them (familiar form), sorted. */
  tags: string[];
  /** RepoDigests, sorted. */
  digests: string[];
  /** ISO creation time as the engine reports it. */
  created: string;
  labels: Record<string, string>;
  /** Role of the parent image, or null. */
  parent: string | null;
  /** Roles of the child images. */
  children: string[];
  /** Containers using the image, by state. */
  running: number;
  stopped: number;
}

export interface GenContainer {
  role: string;
  id: string;
  name: string;
  imageRole: string;
  running: boolean;
}

export interface Inventory {
  seed: number;
  /** The clock the creation times were computed from (ms, whole seconds). */
  now: number;
  images: GenImage[];
  containers: GenContainer[];
  byRole: Map<string, GenImage>;
  byId: Map<string, GenImage>;
}

export interface GenerateOptions {
  seed: number;
  /** Clock for creation times (ms); rounded down to whole seconds. Pass the same value to get the same IDs. */
  now?: number;
  /** Plain loaded images (default 24). */
  loaded?: number;
  /** Loaded parent/child chains, shapes 0,1,2,0,1,2,… (default 3). */
  chains?: number;
  /** Distinct layers the loaded images share (default 4): fewer layers load and delete faster. */
  layerPool?: number;
  /** Busybox images and their containers (default true). */
  busybox?: boolean;
  /** Legacy-builder chains from the busybox base (default true; needs busybox). */
  builds?: boolean;
  /** "127.0.0.1:PORT" of a registry: adds the digest-only image. */
  registry?: string | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
const REPOS = ['isw/app', 'isw/api', 'ghcr.io/isw/web', '127.0.0.1:5000/isw/app', 'mirror/app'];

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** mulberry32: small, fast, good enough for fixtures, and the same everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

interface LoadSpec {
  role: string;
  kind: 'loaded' | 'chain' | 'busybox' | 'digest-seed';
  tags: string[];
  created: string;
  labels: Record<string, string>;
  layers: { tar: Buffer; digest: string }[];
  /** Parent role (chains): loaded earlier in the same archive. */
  parent: string | null;
  history: { created: string; created_by: string }[];
  runnable: boolean;
}

interface ArchiveImage extends LoadSpec {
  id: string;
  config: string;
}

let busyboxLayer: Promise<{ tar: Buffer; digest: string }> | null = null;
function busyboxLayerOnce(): Promise<{ tar: Buffer; digest: string }> {
  busyboxLayer ??= busyboxRootfs().then((tar) => ({ tar, digest: sha256(tar) }));
  return busyboxLayer;
}

const layerOf = (spec: LayerSpec): { tar: Buffer; digest: string } => {
  const tar = layerTar(spec);
  return { tar, digest: sha256(tar) };
};

function withIds(specs: LoadSpec[], seed: number): ArchiveImage[] {
  const out: ArchiveImage[] = [];
  const byRole = new Map<string, ArchiveImage>();
  for (const s of specs) {
    const config = JSON.stringify({
      architecture: ARCH[process.arch] ?? process.arch,
      os: 'linux',
      created: s.created,
      config: {
        Env: [`ISW_ROLE=${s.role}`, `ISW_SEED=${seed}`],
        ...(s.runnable ? { Cmd: ['/bin/busybox', 'sh'] } : {}),
        Labels: Object.keys(s.labels).length > 0 ? s.labels : null,
      },
      rootfs: { type: 'layers', diff_ids: s.layers.map((l) => `sha256:${l.digest}`) },
      history: s.history,
    });
    const img: ArchiveImage = { ...s, id: `sha256:${sha256(config)}`, config };
    if (s.parent !== null && !byRole.has(s.parent))
      throw new Error(`generate: parent ${s.parent} of ${s.role} must come first`);
    byRole.set(s.role, img);
    out.push(img);
  }
  return out;
}

/** One docker-save archive holding every image; a layer shared by several images is stored once. */
function archiveOf(images: ArchiveImage[]): Buffer {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const idOf = new Map(images.map((i) => [i.role, i.id]));
  for (const img of images) {
    for (const l of img.layers) {
      if (seen.has(l.digest)) continue;
      seen.add(l.digest);
      entries.push({ type: 'dir', name: l.digest }, { type: 'file', name: `${l.digest}/layer.tar`, data: l.tar });
    }
    entries.push({ type: 'file', name: `${img.id.slice(7)}.json`, data: img.config });
  }
  const manifest = images.map((img) => ({
    Config: `${img.id.slice(7)}.json`,
    RepoTags: img.tags.length > 0 ? img.tags : null,
    Layers: img.layers.map((l) => `${l.digest}/layer.tar`),
    ...(img.parent !== null ? { Parent: idOf.get(img.parent) } : {}),
  }));
  entries.push({ type: 'file', name: 'manifest.json', data: JSON.stringify(manifest) });
  return tarArchive(entries);
}

/** The loadable part of the inventory: a pure function of the options. */
export async function loadSpecs(opts: GenerateOptions): Promise<ArchiveImage[]> {
  const seed = opts.seed;
  const now = Math.floor((opts.now ?? Date.now()) / 1000) * 1000;
  const rand = prng(seed);
  const s = `s${seed}`;
  const specs: LoadSpec[] = [];
  const pool = Array.from({ length: Math.max(1, opts.layerPool ?? 4) }, (_, k) =>
    layerOf({ files: { [`pool/${s}-${k}.bin`]: seededBytes(rand, 1024) } }),
  );
  // Far from the 48 h boundary either way, so clock skew and slow runs cannot flip an image.
  const oldTime = () => now - 3 * DAY - Math.floor(rand() * 14 * DAY);
  const newTime = () => now - HOUR - Math.floor(rand() * 30 * HOUR);

  for (let i = 0; i < (opts.loaded ?? 24); i++) {
    const role = `load-${String(i).padStart(3, '0')}`;
    const created = iso(rand() < 0.5 ? oldTime() : newTime());
    const r = rand();
    const ntags = r < 0.25 ? 0 : r < 0.55 ? 1 : r < 0.8 ? 2 : 3;
    const tags: string[] = [];
    for (let j = 0; j < ntags; j++) tags.push(`${REPOS[Math.floor(rand() * REPOS.length)]}:${s}-i${i}-${j}`);
    const labels: Record<string, string> = {};
    if (rand() < 0.15) labels.keep = 'yes';
    const team = rand();
    if (team < 0.3) labels.team = 'a';
    else if (team < 0.45) labels.team = 'b';
    const layer = pool[Math.floor(rand() * pool.length)]!;
    specs.push({
      role,
      kind: 'loaded',
      tags,
      created,
      labels,
      layers: [layer],
      parent: null,
      history: [{ created, created_by: `isw ${role}` }],
      runnable: false,
    });
  }

  for (let c = 0; c < (opts.chains ?? 3); c++) {
    const shape = c % 3;
    const repo = `isw/chain${c}`;
    const levels: { name: string; created: string; tags: string[]; labels: Record<string, string> }[] =
      shape === 0
        ? [
            { name: 'root', created: iso(now - 12 * DAY), tags: [], labels: {} },
            { name: 'mid', created: iso(now - 11 * DAY), tags: [], labels: {} },
            { name: 'head', created: iso(now - 10 * DAY), tags: [], labels: {} },
          ]
        : shape === 1
          ? [
              { name: 'root', created: iso(now - 9 * DAY), tags: [`${repo}:${s}-root`], labels: { team: 'a' } },
              { name: 'mid', created: iso(now - 8 * DAY), tags: [], labels: { team: 'a' } },
              {
                name: 'head',
                created: iso(now - 5 * HOUR),
                tags: [`${repo}:${s}-head`, `ghcr.io/isw/chain${c}:${s}-head`],
                labels: { team: 'b' },
              },
            ]
          : [
              { name: 'root', created: iso(now - 4 * DAY), tags: [], labels: {} },
              { name: 'head', created: iso(now - 2 * HOUR), tags: [`${repo}:${s}-head`], labels: { team: 'a' } },
            ];
    let parent: LoadSpec | null = null;
    levels.forEach((lv, depth) => {
      const layer = layerOf({ files: { [`chain/${s}-${c}-${depth}.txt`]: seededBytes(rand, 512) } });
      const role = `chain${c}-${lv.name}`;
      const spec: LoadSpec = {
        role,
        kind: 'chain',
        tags: lv.tags,
        created: lv.created,
        labels: lv.labels,
        layers: [...(parent?.layers ?? []), layer],
        parent: parent?.role ?? null,
        // docker load accepts a Parent only when the child's history is the parent's plus one entry.
        history: [...(parent?.history ?? []), { created: lv.created, created_by: `isw ${role}` }],
        runnable: false,
      };
      specs.push(spec);
      parent = spec;
    });
  }

  if (opts.busybox ?? true) {
    const bb = await busyboxLayerOnce();
    const old = iso(now - 10 * DAY);
    const busy = (role: string, tags: string[]): LoadSpec => ({
      role,
      kind: 'busybox',
      tags,
      created: old,
      labels: {},
      layers: [bb],
      parent: null,
      history: [{ created: old, created_by: `isw ${role}` }],
      runnable: true,
    });
    specs.push(
      busy('bb-base', [`isw/busybox:${s}`, `mirror/busybox:${s}-extra`]),
      busy('bb-stopped', [`isw/bb-stopped:${s}-1`, `isw/bb-stopped:${s}-2`]),
      busy('bb-unused', [`isw/bb-unused:${s}`]),
      busy('bb-dangling-running', []),
      busy('bb-dangling-stopped', []),
    );
  }

  if (opts.registry) {
    const created = iso(now - 7 * DAY);
    const layer = layerOf({ files: { [`digest/${s}.bin`]: seededBytes(rand, 700) } });
    specs.push({
      role: 'digest-only',
      kind: 'digest-seed',
      tags: [`${opts.registry}/isw/digest-only:${s}`],
      created,
      labels: {},
      layers: [layer],
      parent: null,
      history: [{ created, created_by: 'isw digest-only' }],
      runnable: false,
    });
  }
  return withIds(specs, seed);
}

const clean = (list: string[] | null | undefined): string[] =>
  (list ?? []).filter((r) => !r.startsWith('<none>')).sort();

/** Builds the inventory on `engine`. Deterministic for loaded images; built ones get fresh IDs per daemon. */
export async function generateInventory(engine: TestEngine, opts: GenerateOptions): Promise<Inventory> {
  const { docker } = engine;
  const seed = opts.seed;
  const s = `s${seed}`;
  const now = Math.floor((opts.now ?? Date.now()) / 1000) * 1000;
  const specs = await loadSpecs({ ...opts, now });
  await drainProgress(
    await docker.loadImage(Readable.from([archiveOf(specs)]), { quiet: true }),
    'docker load (generated inventory)',
  );

  const roleOf = new Map<string, string>(specs.map((sp) => [sp.id, sp.role]));
  const kindOf = new Map<string, ImageKind>(
    specs.map((sp) => [sp.role, sp.kind === 'digest-seed' ? 'digest-only' : sp.kind]),
  );
  const parentOf = new Map<string, string | null>(specs.map((sp) => [sp.role, sp.parent]));

  // The digest-only image goes through the registry while the builds run: the two touch different images.
  const digestSeed = specs.find((sp) => sp.kind === 'digest-seed');
  const digestOnly = async () => {
    if (!digestSeed) return;
    const ref = digestSeed.tags[0]!;
    await pushImage(docker, ref);
    const pushed = (await docker.getImage(ref).inspect()).RepoDigests[0];
    if (!pushed) throw new Error(`generate: push of ${ref} gave no RepoDigest`);
    await docker.getImage(ref).remove(); // its only tag: deletes the image
    const id = await pullImage(docker, pushed);
    if (id !== digestSeed.id) throw new Error(`generate: pulled ${pushed} as ${id}, expected ${digestSeed.id}`);
  };

  const withBusybox = specs.some((sp) => sp.role === 'bb-base');
  const containers: GenContainer[] = [];
  const builds = async () => {
    if (!withBusybox || !(opts.builds ?? true)) return;
    const base = `isw/busybox:${s}`;
    const build = async (role: string, tag: string | undefined, steps: string[]) => {
      const out = await buildChild(engine, { from: base, tag, steps });
      const chain = [...out.intermediates].reverse(); // base's child first
      chain.forEach((id, k) => {
        if (!roleOf.has(id)) {
          roleOf.set(id, `${role}~${k + 1}`);
          kindOf.set(`${role}~${k + 1}`, 'intermediate');
        }
      });
      roleOf.set(out.id, role);
      kindOf.set(role, 'built');
      return out;
    };
    // LABEL steps commit one image each without running anything, and still make a real ParentId chain.
    // (Each step still costs a container create and a commit on vfs: keep the number of steps small.)
    // The three chains side by side; within the first, one build after the other.
    await Promise.all([
      (async () => {
        await build('build-tagged', `isw/built:${s}`, [`LABEL isw.chain=${s}-a`, 'LABEL isw.final=tagged']);
        // Same first step: the cache gives build-tagged's intermediate a second child.
        await build('build-branch', undefined, [`LABEL isw.chain=${s}-a`, 'LABEL isw.final=branch']);
      })(),
      build('build-dangling', undefined, [`LABEL isw.chain=${s}-d`, 'LABEL isw.final=dangling']),
      build('build-used', `isw/built-used:${s}`, [`LABEL isw.chain=${s}-u`, 'LABEL isw.final=used']),
    ]);
  };
  await Promise.all([digestOnly(), builds()]);

  if (withBusybox) {
    const byRoleId = new Map([...roleOf].map(([id, role]) => [role, id]));
    const run = async (imageRole: string, running: boolean): Promise<GenContainer> => {
      const name = `isw-${s}-${imageRole}-${running ? 'running' : 'stopped'}`;
      const id = await runContainer(docker, byRoleId.get(imageRole)!, { running, name });
      return { role: name, id, name, imageRole, running };
    };
    // Side by side; listed in this order.
    const runs: [string, boolean][] = [
      ['bb-base', true],
      ['bb-stopped', false],
      ['bb-dangling-running', true],
      ['bb-dangling-stopped', false],
    ];
    if (byRoleId.has('build-used')) runs.push(['build-used', false]);
    containers.push(...(await Promise.all(runs.map(([role, running]) => run(role, running)))));
  }

  // Read everything back from the engine: the inventory is what the engine says, checked against the specs.
  const listed = await docker.listImages({ all: true });
  const images: GenImage[] = [];
  for (const li of listed) {
    const role = roleOf.get(li.Id);
    if (role === undefined) continue; // not ours (e.g. left by an earlier generation on the same engine)
    // Podman answers ParentId without "sha256:".
    const parentId = li.ParentId ? (li.ParentId.startsWith('sha256:') ? li.ParentId : `sha256:${li.ParentId}`) : null;
    images.push({
      role,
      kind: kindOf.get(role)!,
      id: li.Id,
      tags: clean(li.RepoTags),
      digests: clean(li.RepoDigests),
      created: new Date(li.Created * 1000).toISOString(),
      labels: li.Labels ?? {},
      parent: parentId === null ? null : (roleOf.get(parentId) ?? `(foreign ${parentId})`),
      children: [],
      running: 0,
      stopped: 0,
    });
  }
  const byRole = new Map(images.map((i) => [i.role, i]));
  const byId = new Map(images.map((i) => [i.id, i]));
  // Podman names loaded short names localhost/… (and might keep no parent links).
  const familiar = (r: string) => r.replace(/^localhost\//, '').replace(/^docker\.io\/(library\/)?/, '');
  const keepsParents = images.some((i) => i.parent !== null);
  for (const sp of specs) {
    const img = byRole.get(sp.role);
    if (!img) throw new Error(`generate: ${sp.role} (${sp.id}) is not on the engine after loading`);
    const wantTags = sp.kind === 'digest-seed' ? [] : [...sp.tags].sort();
    const tags = img.tags.map(familiar).sort();
    if (JSON.stringify(tags) !== JSON.stringify(wantTags))
      throw new Error(`generate: ${sp.role} has tags ${img.tags.join(',')}, expected ${wantTags.join(',')}`);
    if (keepsParents && (img.parent ?? null) !== (parentOf.get(sp.role) ?? null))
      throw new Error(`generate: ${sp.role} has parent ${img.parent}, expected ${parentOf.get(sp.role)}`);
  }
  for (const img of images) if (img.parent !== null) byRole.get(img.parent)?.children.push(img.role);
  for (const c of containers) {
    const img = byRole.get(c.imageRole)!;
    if (c.running) img.running++;
    else img.stopped++;
  }
  for (const img of images) img.children.sort();
  images.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  return { seed, now, images, containers, byRole, byId };
}

/** One line per image: role, kind, short ID, tags, parent, containers. For failure messages and debugging. */
export function describeInventory(inv: Inventory): string {
  return inv.images
    .map((i) => {
      const use = [i.running ? `${i.running} running` : '', i.stopped ? `${i.stopped} stopped` : '']
        .filter(Boolean)
        .join(', ');
      const labels = Object.entries(i.labels)
        .filter(([k]) => !k.startsWith('isw.'))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return `${i.role.padEnd(22)} ${i.kind.padEnd(12)} ${i.id.slice(7, 19)} ${i.created.slice(0, 16)} [${[...i.tags, ...i.digests].join(' ')}]${labels ? ` {${labels}}` : ''}${i.parent ? ` parent=${i.parent}` : ''}${use ? ` (${use})` : ''}`;
    })
    .join('\n');
}

/**
 * The images a policy that selects every reference of the images `selects` accepts would delete, in
 * imgsweep's semantics: selected, used by no container (stopped ones protect), and not the parent of an
 * image that stays.
 */
export function expectedDeletes(inv: Inventory, selects: (img: GenImage) => boolean): Set<string> {
  const del = new Set(inv.images.filter((i) => selects(i) && i.running === 0 && i.stopped === 0).map((i) => i.role));
  let changed = true;
  while (changed) {
    changed = false;
    for (const img of inv.images) {
      if (del.has(img.role) || img.parent === null || !del.has(img.parent)) continue;
      del.delete(img.parent); // a staying image keeps its whole parent chain
      changed = true;
    }
  }
  return del;
}

export interface RoleState {
  tags: string[];
  digests: string[];
}

/** The engine's images now, by role (null: gone), plus IDs that belong to no role. */
export async function snapshotRoles(
  docker: Docker,
  inv: Inventory,
): Promise<{ roles: Map<string, RoleState | null>; unknown: string[] }> {
  const listed = await docker.listImages({ all: true });
  const live = new Map(listed.map((i) => [i.Id, i]));
  const roles = new Map<string, RoleState | null>();
  for (const img of inv.images) {
    const li = live.get(img.id);
    roles.set(img.role, li ? { tags: clean(li.RepoTags), digests: clean(li.RepoDigests) } : null);
  }
  return { roles, unknown: listed.filter((i) => !inv.byId.has(i.Id)).map((i) => i.Id) };
}

/** Roles whose image is gone now. */
export function goneRoles(snapshot: { roles: Map<string, RoleState | null> }): string[] {
  return [...snapshot.roles]
    .filter(([, s]) => s === null)
    .map(([r]) => r)
    .sort();
}

/** Removes every container and image, so the engine is empty for the next inventory. */
export async function resetEngine(docker: Docker): Promise<void> {
  for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true });
  for (let round = 0; round < 5; round++) {
    const images = await docker.listImages({ all: true });
    if (images.length === 0) return;
    await docker.pruneImages({ filters: { dangling: ['false'] } });
    for (const i of await docker.listImages({ all: true }))
      await docker
        .getImage(i.Id)
        .remove({ force: true })
        .catch(() => undefined);
  }
  const left = await docker.listImages({ all: true });
  if (left.length > 0) throw new Error(`reset: ${left.length} images would not go: ${left.map((i) => i.Id).join(' ')}`);
}
