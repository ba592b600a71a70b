/**
 * BuildKit build-cache fixtures on a test dockerd: real BuildKit builds through a docker CLI, the engine's build-cache
 * records as GET /system/df lists them, a build held open by a slow RUN step (its records InUse), and a POST
 * /build/prune that sends its arguments (dockerode's pruneBuilder sends none: it would prune everything prunable).
 *
 * Facts these rely on (dockerd 20.10, API 1.41):
 * - the Dockerfile frontend built into 20.10 takes `RUN --mount=type=cache` with no `# syntax` line (which would
 *   need the dockerfile frontend image from a registry);
 * - `--network none` for RUN steps: test engines have no bridge network;
 * - a docker CLI 23 or later runs `docker build` through buildx only (without the plugin it fails: "BuildKit is
 *   enabled but the buildx component is missing or broken"), so a CLI is looked for that can: a 20.10 one (BuildKit
 *   built in, DOCKER_BUILDKIT=1) or one with buildx. A newer CLI in /usr/local/bin can shadow Debian's /usr/bin/docker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type Docker from 'dockerode';
import type { TestEngine } from './dockerd.js';
import { exited, runCommand, waitFor, which } from './process.js';

/** Record types BuildKit reports (swagger's BuildCache.Type enum); 20.10's own frontend makes no frontend/internal. */
export type BuildCacheType =
  'regular' | 'source.local' | 'source.git.checkout' | 'exec.cachemount' | 'frontend' | 'internal';

/** One entry of GET /system/df's BuildCache, as the engine sends it. */
export interface BuildCacheRecord {
  /** 25 characters of [a-z0-9] (BuildKit's identity.NewID). */
  ID: string;
  /** API < 1.42: the parent's ID, "" for none. */
  Parent?: string;
  /** API >= 1.42 (Parent is then left out). */
  Parents?: string[] | null;
  Type: BuildCacheType;
  Description: string;
  /** Held by a build under way, or (mutable cache mount, local source) by a session. Never pruned. */
  InUse: boolean;
  /** Its layer chain is (a prefix of) an image's: so are all its parents. */
  Shared: boolean;
  /** 0 for a mutable record in use (its size is not known yet). */
  Size: number;
  CreatedAt: string;
  /** null until a build first releases the record (records of a build under way). */
  LastUsedAt: string | null;
  UsageCount: number;
}

/** Parent IDs whichever way the API version gives them. */
export function parentsOf(record: BuildCacheRecord): string[] {
  if (record.Parents) return record.Parents;
  return record.Parent ? [record.Parent] : [];
}

interface DialOptions {
  path: string;
  method: 'GET' | 'POST';
  options?: Record<string, unknown>;
  statusCodes: Record<number, boolean | string>;
}

function dial<T>(docker: Docker, opts: DialOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(opts, (error, data) => (error ? reject(error) : resolve(data as T)));
  });
}

const DF_BUSY = 'a disk usage operation is already running';

/**
 * The engine's build-cache records, oldest first (CreatedAt, then ID). `type=build-cache` limits the work on API
 * >= 1.42; 1.41 ignores it and computes images, containers and volumes too. A 500 "a disk usage operation is
 * already running" (20.10 allows one /system/df at a time) is tried again for up to 10 s.
 */
export async function buildCacheRecords(docker: Docker): Promise<BuildCacheRecord[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const df = await dial<{ BuildCache?: BuildCacheRecord[] | null }>(docker, {
        path: '/system/df?',
        method: 'GET',
        options: { type: 'build-cache' },
        statusCodes: { 200: true, 500: 'server error' },
      });
      return [...(df.BuildCache ?? [])].sort(
        (a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID),
      );
    } catch (error) {
      if (Date.now() > deadline || !String(error).includes(DF_BUSY)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export interface BuildPruneQuery {
  /** Encoded as JSON, map form: { id: { '^ID$': true }, private: {} }. Several values for one key are refused. */
  filters?: Record<string, Record<string, boolean>>;
  all?: boolean;
  /** Bytes (API < 1.48; renamed reserved-space in 1.48). */
  keepStorage?: number;
}

export interface BuildPruneReport {
  CachesDeleted: string[];
  SpaceReclaimed: number;
}

/**
 * POST /build/prune with its query. Not dockerode's `pruneBuilder`: that sends no query at all (dockerode 4.0.12 and
 * 5.0.1), so its filters are dropped and the engine prunes every unused private record.
 */
export async function buildPrune(docker: Docker, query: BuildPruneQuery = {}): Promise<BuildPruneReport> {
  const options: Record<string, unknown> = {};
  if (query.filters) options.filters = query.filters;
  if (query.all !== undefined) options.all = query.all;
  if (query.keepStorage !== undefined) options['keep-storage'] = query.keepStorage;
  const report = await dial<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>(docker, {
    path: '/build/prune?',
    method: 'POST',
    options,
    statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
  });
  return { CachesDeleted: report.CachesDeleted ?? [], SpaceReclaimed: report.SpaceReclaimed };
}

/** The environment engine.cli gives the docker CLI, with BuildKit on and plain progress. */
function buildEnv(engine: TestEngine): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: engine.host,
    DOCKER_CONFIG: join(engine.dir, 'cli-config'),
    DOCKER_BUILDKIT: '1',
    BUILDKIT_PROGRESS: 'plain',
  };
  delete env.DOCKER_CONTEXT;
  return env;
}

const cliChecks = new Map<string, Promise<string>>();

/**
 * A docker CLI that can run a BuildKit build with `env`: the first of PATH's docker, /usr/bin/docker and
 * /usr/local/bin/docker that is older than 23 (BuildKit built in) or has the buildx plugin.
 */
export function buildkitCli(env: NodeJS.ProcessEnv): Promise<string> {
  const key = env.DOCKER_CONFIG ?? '';
  let found = cliChecks.get(key);
  if (!found) {
    found = findBuildkitCli(env);
    cliChecks.set(key, found);
    found.catch(() => cliChecks.delete(key));
  }
  return found;
}

async function findBuildkitCli(env: NodeJS.ProcessEnv): Promise<string> {
  const candidates = [which('docker'), '/usr/bin/docker', '/usr/local/bin/docker'].filter(
    (bin, i, all): bin is string => bin !== null && all.indexOf(bin) === i && existsSync(bin),
  );
  const seen: string[] = [];
  for (const bin of candidates) {
    const version = await runCommand(bin, ['--version'], { env, timeoutMs: 15_000 });
    const major = Number(/version (\d+)\./.exec(version.stdout)?.[1] ?? NaN);
    if (major < 23) return bin;
    const buildx = await runCommand(bin, ['buildx', 'version'], { env, timeoutMs: 15_000 });
    if (buildx.code === 0) return bin;
    seen.push(`${bin} (${version.stdout.trim() || 'no version'}, no buildx)`);
  }
  throw new Error(
    `no docker CLI here can run a BuildKit build: ${seen.join('; ') || 'none found'}. ` +
      "Install Debian's docker.io (its /usr/bin/docker 20.10 has BuildKit built in) or the buildx plugin",
  );
}

export interface BuildWithCacheOptions {
  /** "repo:tag" for the image built. */
  tag: string;
  /** A local image to build FROM (e.g. one importBusybox gave): nothing is pulled. */
  base: string;
  /** The build context's files (relative paths). */
  files: Record<string, string | Buffer>;
  /** Dockerfile lines after FROM. Default: COPY the context to /ctx/, then one RUN on it. */
  steps?: string[];
  /**
   * Adds a last step `RUN --mount=type=cache,id=…,target=/cache` writing to the mount: an exec.cachemount record.
   * true: id "imgsweep-cache" (every build with it shares the one record); a string: that id.
   */
  cacheMount?: boolean | string;
}

/** Where a tag's build files live: the same folder for the same tag, so a rebuild reuses its source.local records. */
function buildDir(engine: TestEngine, tag: string): string {
  return join(engine.dir, 'buildkit', tag.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function cacheMountFlag(cacheMount: boolean | string): string {
  const id = typeof cacheMount === 'string' ? cacheMount : 'imgsweep-cache';
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new Error(`cache mount id ${JSON.stringify(id)}: use [A-Za-z0-9_.-]`);
  return `--mount=type=cache,id=${id},target=/cache`;
}

/** Writes Dockerfile and context under the tag's folder (cleared first); returns their paths. */
async function writeBuild(
  engine: TestEngine,
  tag: string,
  files: Record<string, string | Buffer>,
  dockerfile: string[],
): Promise<{ dir: string; context: string; dockerfile: string }> {
  const dir = buildDir(engine, tag);
  const context = join(dir, 'context');
  await rm(dir, { recursive: true, force: true });
  await mkdir(context, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const rel = normalize(name);
    if (isAbsolute(rel) || rel.startsWith('..')) throw new Error(`context file ${name}: not a relative path inside`);
    await mkdir(dirname(join(context, rel)), { recursive: true });
    await writeFile(join(context, rel), data);
  }
  const path = join(dir, 'Dockerfile');
  await writeFile(path, dockerfile.join('\n') + '\n');
  return { dir, context, dockerfile: path };
}

function defaultSteps(files: Record<string, string | Buffer>): string[] {
  return Object.keys(files).length > 0 ? ['COPY . /ctx/', 'RUN /bin/busybox ls -lR /ctx > /ctx.list'] : [];
}

function buildArgs(tag: string, paths: { dir: string; context: string; dockerfile: string }): string[] {
  const iid = join(paths.dir, 'iid');
  return ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, '-t', tag, '-f', paths.dockerfile];
}

/**
 * A real BuildKit build on the engine (`docker build --network none`, DOCKER_BUILDKIT=1); returns the image's ID.
 * Its records: source.local ones for the Dockerfile and the context, regular ones for the base and each step
 * (Shared while the image exists), and with `cacheMount` one exec.cachemount record (private).
 */
export async function buildWithCache(engine: TestEngine, opts: BuildWithCacheOptions): Promise<string> {
  const steps = [...(opts.steps ?? defaultSteps(opts.files))];
  if (opts.cacheMount) {
    steps.push(`RUN ${cacheMountFlag(opts.cacheMount)} /bin/busybox sh -c 'echo ${opts.tag} >> /cache/builds'`);
  }
  const paths = await writeBuild(engine, opts.tag, opts.files, [`FROM ${opts.base}`, ...steps]);
  const env = buildEnv(engine);
  const bin = await buildkitCli(env);
  const result = await runCommand(bin, [...buildArgs(opts.tag, paths), paths.context], { env, timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new Error(`BuildKit build of ${opts.tag} failed (${bin}, exit ${result.code}):\n${tail(result)}`);
  }
  return (await readFile(join(paths.dir, 'iid'), 'utf8')).trim();
}

function tail(result: { stdout: string; stderr: string }, lines = 30): string {
  return `${result.stdout}${result.stderr}`.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface SlowBuildOptions {
  tag: string;
  base: string;
  /** How long the slow RUN step sleeps (default 60 s): abort() ends it sooner. */
  seconds?: number;
  files?: Record<string, string | Buffer>;
  /** Steps before the slow one. Default: COPY the context to /ctx/ (when there are files). */
  steps?: string[];
  /** The slow step mounts this cache (as in BuildWithCacheOptions): its exec.cachemount record is InUse meanwhile. */
  cacheMount?: boolean | string;
}

export type SlowBuildOutcome =
  | { ok: true; id: string; output: string }
  | { ok: false; code: number | null; signal: NodeJS.Signals | null; output: string };

export interface SlowBuild {
  /** In the slow step's command (a comment), so in its records' descriptions: the step never hits the cache. */
  marker: string;
  /**
   * Resolves once the slow step runs, with the build-cache records then (the build's own InUse, the slow step's
   * among them); rejects if the build ends first or `timeoutMs` (default 60 s) passes.
   */
  running(timeoutMs?: number): Promise<BuildCacheRecord[]>;
  /** How the build ended; never rejects. */
  finished: Promise<SlowBuildOutcome>;
  /**
   * Interrupts the CLI (which cancels the build), waits for it to exit and for no record to be InUse with the
   * marker in its description.
   */
  abort(): Promise<SlowBuildOutcome>;
}

/** Starts a BuildKit build whose last step sleeps, holding its records InUse; await running(), then abort(). */
export async function startSlowBuild(engine: TestEngine, opts: SlowBuildOptions): Promise<SlowBuild> {
  const files = opts.files ?? {};
  const marker = `imgsweep-slow-${randomUUID().slice(0, 8)}`;
  const mount = opts.cacheMount ? `${cacheMountFlag(opts.cacheMount)} ` : '';
  const slow = opts.cacheMount
    ? `RUN ${mount}/bin/busybox sh -c 'echo ${opts.tag} >> /cache/builds; /bin/busybox sleep ${opts.seconds ?? 60}' # ${marker}`
    : `RUN /bin/busybox sleep ${opts.seconds ?? 60} # ${marker}`;
  const steps = opts.steps ?? (Object.keys(files).length > 0 ? ['COPY . /ctx/'] : []);
  const paths = await writeBuild(engine, opts.tag, files, [`FROM ${opts.base}`, ...steps, slow]);
  const env = buildEnv(engine);
  const bin = await buildkitCli(env);
  const child: ChildProcess = spawn(bin, [...buildArgs(opts.tag, paths), paths.context], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const finished = new Promise<SlowBuildOutcome>((resolve) => {
    child.once('error', (error) => {
      process.off('exit', killOnExit);
      resolve({ ok: false, code: null, signal: null, output: `${output}\n${error.message}` });
    });
    child.once('close', (code, signal) => {
      process.off('exit', killOnExit);
      if (code !== 0) return resolve({ ok: false, code, signal, output });
      readFile(join(paths.dir, 'iid'), 'utf8').then(
        (iid) => resolve({ ok: true, id: iid.trim(), output }),
        (error: unknown) => resolve({ ok: false, code, signal, output: `${output}\nno iidfile: ${String(error)}` }),
      );
    });
  });
  let done = false;
  void finished.then(() => (done = true));
  const slowRecordInUse = (records: BuildCacheRecord[]): boolean =>
    records.some((r) => r.InUse && r.Description.includes(marker));

  return {
    marker,
    finished,
    async running(timeoutMs = 60_000) {
      let records: BuildCacheRecord[] = [];
      const ok = await waitFor(
        async () => {
          // The step's records appear once it starts: the progress names it first, so no df is asked earlier.
          if (!output.includes(marker)) return false;
          records = await buildCacheRecords(engine.docker);
          return slowRecordInUse(records);
        },
        { timeoutMs, intervalMs: 250, stopEarly: () => done },
      );
      if (!ok) {
        const why = done ? 'the build ended first' : `not in ${timeoutMs} ms`;
        throw new Error(
          `slow build ${opts.tag}: its slow step never showed InUse (${why}):\n${tail({ stdout: output, stderr: '' })}`,
        );
      }
      return records;
    },
    async abort() {
      if (!exited(child)) child.kill('SIGINT');
      const timer = setTimeout(() => killOnExit(), 15_000);
      const outcome = await finished;
      clearTimeout(timer);
      const released = await waitFor(async () => !slowRecordInUse(await buildCacheRecords(engine.docker)), {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      if (!released) throw new Error(`slow build ${opts.tag}: its records are still InUse 30 s after the abort`);
      return outcome;
    },
  };
}
