/**
 * A throwaway Podman API service per test file: `podman system service` on a private root, runroot and tmpdir
 * (vfs), removed afterwards. Podman serves the Docker-compatible API, so tests drive it with dockerode and the
 * docker CLI as they drive dockerd; `podman(args)` runs Podman's own CLI on the same storage.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { awaitService, type TestEngine } from './dockerd.js';
import { runContainer, splitTag } from './fixtures.js';
import { drainProgress } from './progress.js';
import {
  exited,
  killGroup,
  mountsUnder,
  runCommand,
  stopChild,
  waitFor,
  which,
  type CommandResult,
} from './process.js';
import { busyboxRootfs } from './rootfs.js';

export interface TestPodman extends TestEngine {
  /** `podman` with this service's storage flags, for what the compatible API cannot show. */
  podman(args: string[], opts?: { input?: Buffer | string }): Promise<CommandResult>;
}

export const PODMAN_NOT_FOUND =
  "podman not found: install Debian's podman (apt-get install -y podman) " +
  'or set IMGSWEEP_SKIP_ENGINE_TESTS=1 to skip the real-engine tests';

/** Without explicit limits runc fails setting rlimits on these hosts. */
export const PODMAN_ULIMITS = [
  { Name: 'nofile', Soft: 1024, Hard: 1024 },
  { Name: 'nproc', Soft: 1024, Hard: 1024 },
];

const STOP_GRACE_MS = 15_000;

/** Processes (other than this one) whose command line names a path under dir: this service's helpers. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * A Podman service of its own. On a loaded 2-core machine a service now and then never answers (its log empty);
 * one more start is tried then, and a second failure fails the test with both reasons.
 */
export async function startPodman(): Promise<TestPodman> {
  const bin = which('podman');
  if (bin === null) throw new Error(PODMAN_NOT_FOUND);
  try {
    return await startPodmanOnce(bin);
  } catch (first) {
    try {
      return await startPodmanOnce(bin);
    } catch (second) {
      throw new Error(`${(second as Error).message}\n(a first start failed too: ${(first as Error).message})`);
    }
  }
}

async function startPodmanOnce(bin: string): Promise<TestPodman> {
  // Short path: unix socket paths are limited to ~108 bytes.
  const dir = await mkdtemp('/tmp/iswp-');
  const socketPath = join(dir, 'podman.sock');
  const logPath = join(dir, 'podman.log');
  // Everything private: storage, runtime state, and libpod's tmpdir (default /run/libpod, shared by every
  // podman on the host, holding its "alive" marker and the events log).
  const storage = [
    '--storage-driver',
    'vfs',
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--events-backend',
    'file',
    '--cgroup-manager',
    'cgroupfs',
  ];
  // Locks of its own too: by default every Podman on the host shares one lock segment (/dev/shm/libpod_lock),
  // where a service stopped hard can leave a lock taken that the next service then waits on for ever. File
  // locks live in the private tmpdir.
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, '[engine]\nlock_type = "file"\n');
  // Podman's /version and /info name the package of conmon, the OCI runtime and slirp4netns: on Debian each is a
  // `dpkg -S PATH`, which reads dpkg's whole file list (3 of them per call: 2-3 s a call on a loaded 2-core machine,
  // and imgsweep asks both on every run). dpkg runs dpkg-query from PATH: the service's finds one that fails at
  // once, so the package reads "Unknown" (which nothing here looks at); the engine itself is untouched.
  const shims = join(dir, 'bin');
  mkdirSync(shims);
  writeFileSync(join(shims, 'dpkg-query'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const serviceEnv = { ...env, PATH: `${shims}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const log = openSync(logPath, 'a');
  const child = spawn(bin, [...storage, 'system', 'service', '--time=0', `unix://${socketPath}`], {
    detached: true, // own process group, so a hard stop also takes conmon and friends
    stdio: ['ignore', log, log],
    env: serviceEnv,
  });
  closeSync(log);
  let spawnError: Error | null = null;
  child.once('error', (error) => (spawnError = error));
  const killOnExit = (): void => killGroup(child, 'SIGKILL');
  process.on('exit', killOnExit);

  const podman = (args: string[], opts: { input?: Buffer | string } = {}): Promise<CommandResult> =>
    runCommand(bin, [...storage, ...args], { input: opts.input, env, timeoutMs: 60_000 });

  const cleanup = async (): Promise<void> => {
    await stopChild(child, STOP_GRACE_MS);
    killGroup(child, 'SIGKILL');
    process.off('exit', killOnExit);
    // conmon and the `podman container cleanup` it runs when a container exits leave the service's process
    // group and may still write under the root: wait for them, then end what is left of them.
    if (
      !(await waitFor(() => Promise.resolve(processesUsing(dir).length === 0), {
        timeoutMs: STOP_GRACE_MS,
        intervalMs: 200,
      }))
    ) {
      for (const pid of processesUsing(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    // vfs leaves no layer mounts, but a container's shm and the storage's own bind mounts may remain.
    for (const point of mountsUnder(dir)) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };

  const { host, docker, cli } = await awaitService('podman system service', {
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
    podman,
    cli,
    stop: async () => {
      // Containers first, while the service still runs: each has a conmon and mounts to release.
      try {
        const containers = await docker.listContainers({ all: true });
        for (const c of containers)
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
      } catch {
        // the service may already be gone
      }
      if (!exited(child)) {
        const left = await podman(['ps', '-aq']).catch(() => null);
        if (left && left.stdout.trim() !== '')
          await podman(['rm', '-f', '-t', '0', ...left.stdout.trim().split('\n')]).catch(() => null);
      }
      await cleanup();
    },
  };
}

/**
 * A runnable image (the host's busybox) under `ref`. Podman's compatible import ignores the `tag` query
 * parameter (it names the image `<repo>:latest`), so the image is imported unnamed and then tagged.
 */
export async function importBusyboxPodman(docker: Docker, ref: string): Promise<string> {
  const stream = await docker.importImage(Readable.from([await busyboxRootfs()]), {});
  const lines = await drainProgress(stream, 'podman import');
  const id = lines
    .map((l) => (typeof l.status === 'string' ? l.status.trim() : ''))
    .find((s) => /^(sha256:)?[0-9a-f]{64}$/.test(s));
  if (id === undefined) throw new Error(`podman import gave no image ID:\n${JSON.stringify(lines)}`);
  const { repo, tag } = splitTag(ref);
  await docker.getImage(id).tag({ repo, tag });
  return (await docker.getImage(id).inspect()).Id;
}

/** `busybox sleep 1000` left running, or `busybox true` run to completion, with the limits runc needs here. */
export function runPodmanContainer(
  docker: Docker,
  image: string,
  opts: { running: boolean; name?: string; labels?: Record<string, string> },
): Promise<string> {
  return runContainer(docker, image, { ...opts, ulimits: PODMAN_ULIMITS });
}
