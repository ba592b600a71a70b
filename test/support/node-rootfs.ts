/**
 * A Node.js base image made without a registry: this machine's `node` binary, the shared libraries
 * `ldd $(which node)` lists (the dynamic loader among them), /etc/passwd and /etc/group with root and a
 * non-root `node` user (uid/gid 1000, as in the official node images), a world-writable /tmp, and busybox as
 * /bin/sh with a few applets (mkdir, ls, …) — the Dockerfile's build stage runs `RUN` lines through /bin/sh,
 * which every real node image has.
 * No npm: the image is built from a prebuilt context (Dockerfile `PREBUILT=1`), which needs none.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import type { TestEngine } from './dockerd.js';
import { runCommand, which } from './process.js';
import { parseLdd } from './rootfs.js';
import { parentDirs, tarArchive, type TarEntry } from './tar.js';

const BUSYBOX = '/bin/busybox';
/** Busybox applets linked into /bin: the basic tools a Dockerfile's RUN lines expect of a Debian-based image. */
const APPLETS = [
  'sh',
  '[',
  'basename',
  'cat',
  'chmod',
  'chown',
  'cp',
  'dirname',
  'echo',
  'env',
  'false',
  'find',
  'grep',
  'head',
  'id',
  'ln',
  'ls',
  'mkdir',
  'mv',
  'printf',
  'pwd',
  'rm',
  'sed',
  'sleep',
  'stat',
  'tail',
  'tar',
  'test',
  'touch',
  'true',
  'wc',
  'which',
  'whoami',
];
/** Where the official node images keep it; on PATH by the engine's default PATH. */
export const NODE_PATH_IN_IMAGE = 'usr/local/bin/node';
export const NODE_UID = 1000;

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  `node:x:${NODE_UID}:${NODE_UID}::/home/node:/bin/sh`,
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
];
const GROUP = ['root:x:0:', `node:x:${NODE_UID}:`, 'nogroup:x:65534:'];

async function libsOf(binary: string): Promise<string[]> {
  const ldd = await runCommand('ldd', [binary], { timeoutMs: 10_000 }).catch(() => ({ stdout: '', code: 1 }));
  return parseLdd(ldd.stdout).map((p) => p.replace(/^\//, ''));
}

/** The rootfs as a tar archive (about 100 MB: node is large). */
export async function nodeRootfs(): Promise<Buffer> {
  const nodeOnHost = which('node');
  if (nodeOnHost === null) throw new Error('node not found on PATH');
  if (!existsSync(BUSYBOX)) {
    throw new Error('/bin/busybox not found: run `node scripts/ensure-engine.mjs` (apt-get install -y busybox)');
  }
  const nodeReal = realpathSync(nodeOnHost);
  const libs = [...new Set([...(await libsOf(nodeReal)), ...(await libsOf(BUSYBOX))])];
  if (!libs.some((l) => /ld-linux|ld-musl|ld64/.test(l))) {
    throw new Error(
      `ldd ${nodeReal} listed no dynamic loader; cannot build a runnable rootfs from: ${libs.join(', ')}`,
    );
  }
  const files: TarEntry[] = [
    { type: 'file', name: NODE_PATH_IN_IMAGE, data: readFileSync(nodeReal), mode: 0o755 },
    { type: 'file', name: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 },
    ...APPLETS.map((applet): TarEntry => ({ type: 'symlink', name: `bin/${applet}`, target: 'busybox' })),
    { type: 'symlink', name: 'usr/bin/env', target: '../../bin/busybox' }, // for `#!/usr/bin/env node` scripts
    // readFileSync follows symlinks (/lib64/ld-linux… → /lib/x86_64-linux-gnu/…): store real content.
    ...libs.map((lib): TarEntry => ({ type: 'file', name: lib, data: readFileSync(`/${lib}`), mode: 0o755 })),
    { type: 'file', name: 'etc/passwd', data: `${PASSWD.join('\n')}\n` },
    { type: 'file', name: 'etc/group', data: `${GROUP.join('\n')}\n` },
    { type: 'dir', name: 'tmp', mode: 0o1777 },
    { type: 'dir', name: 'root', mode: 0o700 },
  ];
  const dirs = parentDirs([
    NODE_PATH_IN_IMAGE,
    'bin/busybox',
    'usr/bin/env',
    'etc/passwd',
    'var/lib/x',
    'home/node/x',
    ...libs,
  ]);
  return tarArchive([...dirs, ...files]);
}

/**
 * Imports the rootfs as `tag` on the test engine with `docker import`, with the PATH the official images set;
 * returns the image ID.
 */
export async function importNodeBase(engine: TestEngine, tag: string): Promise<string> {
  const rootfs = await nodeRootfs();
  const result = await engine.cli(
    [
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      'CMD ["node"]',
      '-',
      tag,
    ],
    { input: rootfs },
  );
  if (result.code !== 0) throw new Error(`docker import ${tag} failed (${result.code}): ${result.stderr}`);
  return result.stdout.trim();
}
