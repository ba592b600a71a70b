#!/usr/bin/env node
// Makes sure the real-engine tests can run: dockerd, docker-registry, /bin/busybox (a runnable rootfs), podman,
// promtool and sshd (the ssh:// engine test runs its own OpenSSH server).
// Installs Debian's packages when it can (root + apt-get); otherwise says what to do in one line.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** The services set to start at boot: systemd units in a .wants folder, System V scripts with an S link. */
function enabledServices() {
  const list = (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const services = new Set();
  for (const wants of list('/etc/systemd/system').filter((name) => name.endsWith('.wants'))) {
    for (const unit of list(`/etc/systemd/system/${wants}`)) services.add(`systemd ${unit}`);
  }
  for (const level of ['2', '3', '4', '5']) {
    for (const link of list(`/etc/rc${level}.d`)) {
      const script = /^S\d\d(.+)$/.exec(link)?.[1];
      if (script !== undefined) services.add(`sysv ${script}`);
    }
  }
  return services;
}

function install() {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  if (update.status !== 0) return update.status ?? 1;
  // Always the full set, as documented: apt-get skips what is already installed.
  for (const args of [ENGINES, ['--no-install-recommends', ...TOOLS]]) {
    const result = spawnSync('apt-get', ['install', '-y', ...args], { stdio: 'inherit', env });
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
}

console.error(`ensure-engine: installing ${missing.join(' ')} with apt-get`);
// Debian starts and enables the services of what it installs (dockerd, containerd, podman, sshd, prometheus…).
// The tests run daemons of their own: while installing, policy-rc.d forbids starting any service (unless the
// host has a policy of its own), and what the install enabled is disabled again.
const POLICY_RC = '/usr/sbin/policy-rc.d';
const ownPolicy = !existsSync(POLICY_RC);
if (ownPolicy)
  writeFileSync(
    POLICY_RC,
    "#!/bin/sh\n# Written by imgsweep's scripts/ensure-engine.mjs while it installs packages.\nexit 101\n",
    { mode: 0o755 },
  );
const enabledBefore = enabledServices();
let status;
try {
  status = install();
} finally {
  if (ownPolicy) rmSync(POLICY_RC, { force: true });
}
const enabled = [...enabledServices()].filter((service) => !enabledBefore.has(service));
for (const service of enabled) {
  const [kind, name] = service.split(' ');
  const [cmd, ...args] =
    kind === 'systemd' ? ['deb-systemd-helper', 'disable', name] : ['update-rc.d', name, 'disable'];
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`ensure-engine: could not disable ${name} (${cmd} ${args.join(' ')} failed): disable it by hand`);
    status ||= 1;
  }
}
if (enabled.length > 0)
  console.error(
    `ensure-engine: disabled again what the install enabled: ${enabled.map((s) => s.split(' ')[1]).join(' ')}`,
  );
process.exit(status);
