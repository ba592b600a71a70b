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

/**
 * The services set to start at boot, as "kind name" → the links that enable it: systemd units linked in a .wants
 * folder, System V scripts with an S link in a runlevel folder.
 */
function enabledServices() {
  const list = (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const services = new Map();
  const add = (service, link) => services.set(service, [...(services.get(service) ?? []), link]);
  for (const wants of list('/etc/systemd/system').filter((name) => name.endsWith('.wants'))) {
    for (const unit of list(`/etc/systemd/system/${wants}`))
      add(`systemd ${unit}`, `/etc/systemd/system/${wants}/${unit}`);
  }
  for (const level of ['2', '3', '4', '5']) {
    for (const link of list(`/etc/rc${level}.d`)) {
      const script = /^S\d\d(.+)$/.exec(link)?.[1];
      if (script !== undefined) add(`sysv ${script}`, `/etc/rc${level}.d/${link}`);
    }
  }
  return services;
}

/**
 * Disables a service the install enabled. deb-systemd-helper refuses to run outside dpkg, so systemd units go
 * through systemctl, which edits the links without a running systemd; where there is no systemctl, the links the
 * install made are removed. System V scripts go through update-rc.d, which keeps them disabled on upgrades.
 */
function disable(service, links) {
  const [kind, name] = service.split(' ');
  if (kind === 'sysv') spawnSync('update-rc.d', [name, 'disable'], { stdio: 'inherit' });
  else if (!onPath('systemctl') || spawnSync('systemctl', ['disable', name], { stdio: 'inherit' }).status !== 0)
    for (const link of links) rmSync(link, { force: true });
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
const enabled = [...enabledServices()].filter(([service]) => !enabledBefore.has(service));
for (const [service, links] of enabled) disable(service, links);
const after = enabledServices();
const left = enabled.map(([service]) => service).filter((service) => after.has(service));
const name = (service) => service.split(' ')[1];
const disabled = enabled.map(([service]) => service).filter((service) => !after.has(service));
if (disabled.length > 0)
  console.error(`ensure-engine: disabled again what the install enabled: ${disabled.map(name).join(' ')}`);
if (left.length > 0) {
  console.error(`ensure-engine: could not disable ${left.map(name).join(' ')}: disable them by hand`);
  status ||= 1;
}
process.exit(status);
