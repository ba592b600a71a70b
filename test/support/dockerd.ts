/** A throwaway dockerd per test file: private data root, vfs (or overlay2), no networking, removed afterwards. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import Docker from 'dockerode';
import {
  exited,
  killGroup,
  mountsUnder,
  runCommand,
  stopChild,
  tailFile,
  waitFor,
  which,
  type CommandResult,
} from './process.js';

export interface TestEngine {
  /** unix:///tmp/isw-XXXXXX/docker.sock */
  host: string;
  dir: string;
  /** Pinned to the engine's API version. */
  docker: Docker;
  cli(args: string[], opts?: { input?: Buffer | string; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  stop(): Promise<void>;
}

export const DOCKERD_NOT_FOUND =
  "dockerd not found: install Debian's docker.io (apt-get install -y docker.io) " +
  'or set IMGSWEEP_SKIP_ENGINE_TESTS=1 to skip the real-engine tests';

/** True only when a user asked explicitly, never in CI: a missing engine must fail the tests, not skip them. */
export function engineTestsSkipped(): boolean {
  return process.env.IMGSWEEP_SKIP_ENGINE_TESTS === '1' && !process.env.CI;
}

const READY_MS = 30_000;
const STOP_GRACE_MS = 15_000;

/** GET on the unix socket; resolves with status and body, or null when nothing answers within `timeoutMs`. */
export function getOnSocket(
  socketPath: string,
  path: string,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export interface DockerdOptions {
  /**
   * Storage drivers to try, in order (default: vfs only, which works on any filesystem). overlay2 gives a
   * container or a build step its filesystem without copying the image's (vfs copies every layer each time: a
   * second or more for an image of 100 MB); a daemon that cannot use it (its data root's filesystem cannot hold
   * overlay mounts) exits at once, and the next driver is tried.
   */
  storageDrivers?: ('overlay2' | 'vfs')[];
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<TestEngine> {
  const bin = which('dockerd');
  if (bin === null) throw new Error(DOCKERD_NOT_FOUND);
  const failures: string[] = [];
  for (const driver of opts.storageDrivers ?? ['vfs']) {
    try {
      return await startDockerdWith(bin, driver);
    } catch (error) {
      failures.push(`with --storage-driver=${driver}: ${(error as Error).message}`);
    }
  }
  throw new Error(failures.join('\n'));
}

async function startDockerdWith(bin: string, driver: string): Promise<TestEngine> {
  // Short path: unix socket paths are limited to ~108 bytes.
  const dir = await mkdtemp('/tmp/isw-');
  const socketPath = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  const log = openSync(logPath, 'a');
  const child = spawn(
    bin,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${socketPath}`,
      `--storage-driver=${driver}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    // Own process group, so a hard stop also takes the containerd that dockerd started.
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  let spawnError: Error | null = null;
  child.once('error', (error) => (spawnError = error));
  const killOnExit = (): void => {
    try {
      if (child.pid !== undefined && !exited(child)) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killOnExit);

  /**
   * Stops the daemon and removes its folder. `hard`: with no container left, dockerd and its containerd are killed
   * (SIGKILL to the group) rather than asked to stop: a graceful stop takes a second, waiting on containerd, for a
   * data root that is removed next. Any container left (a removal that failed) gets the graceful stop, which stops
   * it: killed, the daemon would leave its shim and process running.
   */
  const cleanup = async (hard = false): Promise<void> => {
    if (hard && !exited(child)) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup(child, 'SIGKILL');
      await gone;
    }
    await stopChild(child, STOP_GRACE_MS);
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL'); // stragglers left in the group
      } catch {
        // none left
      }
    }
    process.off('exit', killOnExit);
    for (const point of mountsUnder(dir)) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
    await rm(dir, { recursive: true, force: true });
  };

  const { host, docker, cli } = await awaitService('dockerd', {
    socketPath,
    dir,
    child,
    logPath,
    cleanup,
    spawnError: () => spawnError,
  });

  return {
    host,
    dir,
    docker,
    cli,
    stop: async () => {
      let noContainers = false;
      try {
        const containers = await docker.listContainers({ all: true });
        for (const c of containers)
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
        noContainers = (await docker.listContainers({ all: true })).length === 0;
      } catch {
        // the daemon may already be gone; stopping it is what matters
      }
      await cleanup(noContainers);
    },
  };
}

export interface ServiceStart {
  socketPath: string;
  dir: string;
  child: ChildProcess;
  logPath: string;
  cleanup: () => Promise<void>;
  spawnError: () => unknown;
}

/**
 * Waits for a just-started engine (dockerd, podman service) to answer on its socket, then gives a dockerode
 * client pinned to its API version and a docker CLI pointed at it. On failure: cleans up, throws with the log tail.
 */
export async function awaitService(
  what: string,
  s: ServiceStart,
): Promise<Pick<TestEngine, 'host' | 'docker' | 'cli'>> {
  // Ready once /version names the API version: a loaded machine's Podman answers /_ping well before that.
  let answer: string | undefined;
  let apiVersion: string | undefined;
  const ready = await waitFor(
    async () => {
      // Podman's /version runs its runtime's and conmon's binaries: on a loaded machine it takes seconds.
      const version = await getOnSocket(s.socketPath, '/version', 15_000);
      if (version?.status !== 200) return false;
      answer = version.body;
      try {
        apiVersion = (JSON.parse(version.body) as { ApiVersion?: string }).ApiVersion;
      } catch {
        apiVersion = undefined;
      }
      return apiVersion !== undefined;
    },
    { timeoutMs: READY_MS, stopEarly: () => exited(s.child) || s.spawnError() !== null },
  );
  if (!ready || apiVersion === undefined) {
    const why = exited(s.child)
      ? `exited with ${s.child.exitCode ?? s.child.signalCode}`
      : answer !== undefined
        ? `answered /version without ApiVersion: ${answer}`
        : `not ready in ${READY_MS} ms`;
    const cause = s.spawnError() as Error | null;
    const tail = tailFile(s.logPath, 30);
    await s.cleanup();
    throw new Error(`${what} ${why}${cause ? ` (${cause.message})` : ''}; log tail:\n${tail}`);
  }
  // host/protocol set explicitly: dockerode would otherwise take them from a DOCKER_HOST in the environment.
  const docker = new Docker({
    socketPath: s.socketPath,
    host: undefined,
    protocol: 'http',
    version: `v${apiVersion}`,
    timeout: 120_000,
  });
  const host = `unix://${s.socketPath}`;
  const cliConfig = join(s.dir, 'cli-config');
  await mkdir(cliConfig);
  const cli: TestEngine['cli'] = async (args, opts = {}) => {
    const bin = which('docker');
    if (bin === null)
      throw new Error("docker CLI not found: install Debian's docker.io (apt-get install -y docker.io)");
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: cliConfig, ...opts.env };
    delete env.DOCKER_CONTEXT;
    return runCommand(bin, args, { input: opts.input, env });
  };
  return { host, docker, cli };
}

/** Starts engines side by side; if one fails, those that started are stopped again (nothing left running). */
export async function startTogether<T extends TestEngine[]>(...starts: Promise<TestEngine>[]): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return settled.map((r) => (r as PromiseFulfilledResult<TestEngine>).value) as T;
  await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.stop() : Promise.resolve())));
  throw failed.reason;
}
