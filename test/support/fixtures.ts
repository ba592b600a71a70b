/** Builds engine fixtures through the Engine API: loaded, imported, built, run, pushed and pulled images. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { TestEngine } from './dockerd.js';
import { drainProgress } from './progress.js';
import { busyboxRootfs } from './rootfs.js';
import { parentDirs, tarArchive, type TarEntry } from './tar.js';

export { startRegistry, type TestRegistry } from './registry.js';

/** One layer's files. The same files give the same layer bytes, so passing a spec twice shares the layer. */
export interface LayerSpec {
  files: Record<string, string | Buffer>;
}

export interface LoadImageOptions {
  /** "repo:tag" references; none gives an untagged (dangling) image. */
  tags?: string[];
  /** ISO time; becomes the image's Created. Default: now. */
  created?: string;
  labels?: Record<string, string>;
  /** Layer specs, or a number of random-content layers (default 1, so every image is distinct). */
  layers?: LayerSpec[] | number;
  /** Size of each random layer's payload (default 1 KiB). */
  layerBytes?: number;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export function randomLayer(bytes = 1024): LayerSpec {
  return { files: { [`data/${randomUUID()}.bin`]: randomBytes(bytes) } };
}

export function layerTar(spec: LayerSpec): Buffer {
  const names = Object.keys(spec.files).sort();
  const files = names.map((name): TarEntry => ({ type: 'file', name, data: spec.files[name]! }));
  return tarArchive([...parentDirs(names), ...files]);
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** A docker-save archive (manifest.json, config, layer tars) in memory, and the image ID it loads as. */
export function imageArchive(opts: LoadImageOptions = {}): { archive: Buffer; id: string } {
  const { archive, ids } = imagesArchive([opts]);
  return { archive, id: ids[0]! };
}

/**
 * One docker-save archive holding several images (a layer they share is stored once), and the IDs they load as, in
 * order: one `docker load` makes them all, with the same IDs as loading each from imageArchive would.
 */
export function imagesArchive(list: LoadImageOptions[]): { archive: Buffer; ids: string[] } {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const ids: string[] = [];
  for (const opts of list) {
    const created = opts.created ?? new Date().toISOString();
    const specs =
      typeof opts.layers === 'number' || opts.layers === undefined
        ? Array.from({ length: opts.layers ?? 1 }, () => randomLayer(opts.layerBytes))
        : opts.layers;
    const layers = specs.map((spec) => {
      const tar = layerTar(spec);
      return { tar, digest: sha256(tar) };
    });
    const config = JSON.stringify({
      architecture: ARCH[process.arch] ?? process.arch,
      os: 'linux',
      created,
      config: { Labels: opts.labels ?? null },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.digest}`) },
      history: layers.map(() => ({ created, created_by: 'imgsweep test fixture' })),
    });
    const configName = `${sha256(config)}.json`;
    manifest.push({
      Config: configName,
      RepoTags: opts.tags && opts.tags.length > 0 ? opts.tags : null,
      Layers: layers.map((l) => `${l.digest}/layer.tar`),
    });
    for (const layer of layers) {
      if (seen.has(layer.digest)) continue; // images may share (or repeat) a layer; the archive holds it once
      seen.add(layer.digest);
      entries.push(
        { type: 'dir', name: layer.digest },
        { type: 'file', name: `${layer.digest}/layer.tar`, data: layer.tar },
      );
    }
    if (!seen.has(configName)) {
      seen.add(configName);
      entries.push({ type: 'file', name: configName, data: config });
    }
    ids.push(`sha256:${sha256(config)}`);
  }
  entries.push({ type: 'file', name: 'manifest.json', data: JSON.stringify(manifest) });
  return { archive: tarArchive(entries), ids };
}

/** Loads a hand-built image; returns its full ID ("sha256:…"). */
export async function loadImage(docker: Docker, opts: LoadImageOptions = {}): Promise<string> {
  const { archive, id } = imageArchive(opts);
  await drainProgress(await docker.loadImage(Readable.from([archive]), { quiet: true }), 'docker load');
  return id;
}

/** Loads hand-built images with one `docker load` (one archive); returns their full IDs, in order. */
export async function loadImages(docker: Docker, list: LoadImageOptions[]): Promise<string[]> {
  const { archive, ids } = imagesArchive(list);
  await drainProgress(await docker.loadImage(Readable.from([archive]), { quiet: true }), 'docker load');
  return ids;
}

/** Splits "host:5000/repo:tag" into repo and tag (the tag is after the last ':' that follows the last '/'). */
export function splitTag(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

/** A runnable image: a rootfs with /bin/busybox (and /bin/sh) imported under `tag`; returns its ID. */
export async function importBusybox(docker: Docker, tag: string): Promise<string> {
  const { repo, tag: version } = splitTag(tag);
  const stream = await docker.importImage(Readable.from([await busyboxRootfs()]), { repo, tag: version });
  await drainProgress(stream, 'docker import');
  return (await docker.getImage(tag).inspect()).Id;
}

/** `busybox sleep 1000` left running, or `busybox true` run to completion (a stopped container). */
export async function runContainer(
  docker: Docker,
  image: string,
  opts: {
    running: boolean;
    name?: string;
    labels?: Record<string, string>;
    ulimits?: { Name: string; Soft: number; Hard: number }[];
  },
): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    name: opts.name,
    Cmd: opts.running ? ['/bin/busybox', 'sleep', '1000'] : ['/bin/busybox', 'true'],
    Labels: opts.labels,
    HostConfig: { NetworkMode: 'none', ...(opts.ulimits ? { Ulimits: opts.ulimits } : {}) },
  });
  await container.start();
  if (!opts.running) await container.wait();
  return container.id;
}

/**
 * Builds `FROM from` + steps with the legacy builder, which commits one image per step: the final image has a
 * ParentId chain through untagged intermediates down to `from`. Default steps are unique, so no cache hit.
 */
export async function buildChild(
  engine: TestEngine,
  opts: { from: string; tag?: string; steps?: string[] },
): Promise<{ id: string; intermediates: string[] }> {
  const { docker } = engine;
  const steps = opts.steps ?? [`LABEL imgsweep.build=${randomUUID()}`, 'RUN /bin/busybox true'];
  const dockerfile = [`FROM ${opts.from}`, ...steps].join('\n') + '\n';
  const context = tarArchive([{ type: 'file', name: 'Dockerfile', data: dockerfile }]);
  const query: Record<string, unknown> = { rm: true, forcerm: true, networkmode: 'none', version: '1' };
  if (opts.tag) query.t = opts.tag;
  const lines = await drainProgress(await docker.buildImage(Readable.from([context]), query), 'docker build');
  const aux = lines.map((l) => l.aux as { ID?: string } | undefined).find((a) => a?.ID);
  const built = /Successfully built ([0-9a-f]+)/.exec(
    lines.map((l) => (typeof l.stream === 'string' ? l.stream : '')).join(''),
  );
  const ref = aux?.ID ?? built?.[1];
  if (!ref) throw new Error(`docker build gave no image ID:\n${JSON.stringify(lines)}`);
  const id = (await docker.getImage(ref).inspect()).Id;
  const base = (await docker.getImage(opts.from).inspect()).Id;
  const intermediates: string[] = [];
  let parent = (await docker.getImage(id).inspect()).Parent;
  while (parent && parent !== base) {
    intermediates.push(parent);
    parent = (await docker.getImage(parent).inspect()).Parent;
  }
  return { id, intermediates };
}

// The test registry sometimes answers a blob upload or download with 500 on a loaded machine, or loses the blob so
// that the manifest that follows names an unknown one ("digest invalid", "blob unknown"); a push or pull is
// idempotent, so a fixture's transfer is tried again (three times at most) before the test fails on it.
async function withRegistryRetries<T>(transfer: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transfer();
    } catch (error) {
      if (attempt === 3 || !/HTTP status: 5\d\d|digest invalid|blob unknown/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

export async function pushImage(docker: Docker, ref: string): Promise<void> {
  const { repo, tag } = splitTag(ref);
  await withRegistryRetries(async () => {
    await drainProgress(await docker.getImage(repo).push({ tag }), `docker push ${ref}`);
  });
}

export async function pullImage(docker: Docker, ref: string): Promise<string> {
  await withRegistryRetries(async () => {
    await drainProgress(await docker.pull(ref), `docker pull ${ref}`);
  });
  return (await docker.getImage(ref).inspect()).Id;
}
