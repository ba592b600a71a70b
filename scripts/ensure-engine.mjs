#!/usr/bin/env node
// Makes sure the real-engine tests can run: dockerd, docker-registry, /bin/busybox (a runnable rootfs), podman,
// promtool and sshd (the ssh:// engine test runs its own OpenSSH server).
// Installs Debian's packages when it can (root + apt-get); otherwise says what to do in one line.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// Installed as .ci/run does: the engines in full, the tools without their recommended packages.
const ENGINES = ['docker.io', 'docker-registry', 'busybox', 'podman'];
const TOOLS = ['prometheus', 'openssh-server'];

const HINT =
  "imgsweep tests need real engines, promtool and sshd: install Debian's docker.io, docker-registry, busybox, podman, " +
  'prometheus and openssh-server (sudo apt-get install -y docker.io docker-registry busybox podman prometheus openssh-server) ' +
  'or set IMGSWEEP_SKIP_ENGINE_TESTS=1';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// PATH plus the sbin folders, which a non-login root shell may lack (dockerd lives in /usr/sbin).
function onPath(name) {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  return dirs.some((dir) => dir !== '' && executable(join(dir, name)));
}

// CI never skips the real-engine tests, whatever the environment says.
if (process.env.IMGSWEEP_SKIP_ENGINE_TESTS === '1' && !process.env.CI) process.exit(0);

const missing = [];
if (!onPath('dockerd')) missing.push('docker.io');
if (!onPath('docker-registry')) missing.push('docker-registry');
if (!executable('/bin/busybox')) missing.push('busybox');
if (!onPath('podman')) missing.push('podman');
if (!onPath('promtool')) missing.push('prometheus'); // promtool checks the metrics textfile
if (!executable('/usr/sbin/sshd')) missing.push('openssh-server'); // test/support/sshd.ts runs this path
if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !onPath('apt-get')) {
  process.stderr.write(`${HINT}\n`);
  process.exit(1);
}

console.error(`ensure-engine: installing ${missing.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
if (update.status !== 0) process.exit(update.status ?? 1);
// Always the full set, as documented: apt-get skips what is already installed.
for (const args of [ENGINES, ['--no-install-recommends', ...TOOLS]]) {
  const install = spawnSync('apt-get', ['install', '-y', ...args], { stdio: 'inherit', env });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
