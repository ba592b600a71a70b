#!/usr/bin/env node
// Makes sure the real-engine tests can run: dockerd, docker-registry, /bin/busybox (a runnable rootfs), podman,
// promtool, sshd (the ssh:// engine test runs its own OpenSSH server) and chromium (the HTML report's browser test).
// Installs Debian's packages for what is missing when it can (root + apt-get), after one line naming them; it
// never removes or replaces an installed package (apt-get --no-remove). Otherwise it says what to do in one line.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// The engines in full; the tools without their recommended packages. busybox-static, not busybox: a static
// binary runs in any rootfs, and either one gives /bin/busybox (what is there already is used). chromium's
// screenshots need a font: its libfontconfig1 depends on fontconfig-config, which brings fonts-dejavu-core.
const TOOLS = new Set(['prometheus', 'openssh-server', 'chromium']);

const HINT =
  "imgsweep tests need real engines, promtool, sshd and chromium: install Debian's docker.io, docker-registry, busybox-static, " +
  'podman, prometheus, openssh-server and chromium (sudo apt-get install -y docker.io docker-registry busybox-static podman ' +
  'prometheus openssh-server chromium) ' +
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
if (!onPath('htpasswd')) missing.push('apache2-utils'); // bcrypt htpasswd files for the registry client's tests
if (!onPath('openssl')) missing.push('openssl'); // the registry client's tests make a CA and certificates
if (!executable('/bin/busybox')) missing.push('busybox-static');
if (!onPath('podman')) missing.push('podman');
if (!onPath('promtool')) missing.push('prometheus'); // promtool checks the metrics textfile
if (!executable('/usr/sbin/sshd')) missing.push('openssh-server'); // test/support/sshd.ts runs this path
if (!executable('/usr/bin/chromium')) missing.push('chromium'); // test/integration/html-report.test.ts runs this path
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
  // Only what is missing; --no-remove makes apt-get stop rather than remove or replace an installed package.
  const engines = missing.filter((p) => !TOOLS.has(p));
  const tools = missing.filter((p) => TOOLS.has(p));
  for (const args of [engines, tools.length ? ['--no-install-recommends', ...tools] : []]) {
    if (args.length === 0) continue;
    const result = spawnSync('apt-get', ['install', '-y', '--no-remove', ...args], { stdio: 'inherit', env });
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
}

console.error(`ensure-engine: installing with apt-get (nothing installed is removed): ${missing.join(' ')}`);
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
