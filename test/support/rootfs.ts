/** A minimal runnable rootfs: the host's /bin/busybox plus the shared libraries it links against. */
import { existsSync, readFileSync } from 'node:fs';
import { runCommand } from './process.js';
import { parentDirs, tarArchive, type TarEntry } from './tar.js';

const BUSYBOX = '/bin/busybox';

/** Library paths from `ldd` output; a static busybox has none. */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1]) paths.push(match[1]);
  }
  return paths;
}

let rootfs: Promise<Buffer> | null = null;

/** The rootfs as a tar archive; made once per test file (worker), every busybox import sends the same bytes. */
export function busyboxRootfs(): Promise<Buffer> {
  if (rootfs === null) {
    rootfs = makeBusyboxRootfs();
    rootfs.catch(() => (rootfs = null)); // a failure is not kept: the next call tries again
  }
  return rootfs;
}

async function makeBusyboxRootfs(): Promise<Buffer> {
  if (!existsSync(BUSYBOX)) {
    throw new Error('/bin/busybox not found: run `node scripts/ensure-engine.mjs` (apt-get install -y busybox)');
  }
  const ldd = await runCommand('ldd', [BUSYBOX], { timeoutMs: 10_000 }).catch(() => ({ stdout: '', code: 1 }));
  const libs = parseLdd(ldd.stdout).map((p) => p.replace(/^\//, ''));
  const files: TarEntry[] = [
    { type: 'file', name: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 },
    { type: 'symlink', name: 'bin/sh', target: 'busybox' },
    // readFileSync follows symlinks (/lib64/ld-linux… → /lib/x86_64-linux-gnu/…): store real content.
    ...libs.map((lib): TarEntry => ({ type: 'file', name: lib, data: readFileSync(`/${lib}`), mode: 0o755 })),
  ];
  const dirs = parentDirs(['bin/busybox', 'tmp/x', ...libs]);
  return tarArchive([...dirs, ...files]);
}
