/**
 * Real-engine helpers for the benchmarks (plain JS; test/support/ is TypeScript):
 *
 *   startDockerd()          a throwaway dockerd (vfs, private data root and socket, no networking) that is
 *                           stopped and removed on stop(), on process exit and on SIGINT/SIGTERM
 *   saveArchive(images)     a docker-save archive holding many images that share a pool of layers
 *   layer(name, bytes)      a deterministic one-file layer tar (same name and size: same bytes, same layer)
 *   busyboxLayer()          a layer with the host's /bin/busybox and its libraries (runnable containers)
 *   countingProxy(socket)   a unix-socket HTTP proxy in front of a daemon that counts requests by method+path
 *   run(cmd, args)          a command with a hard time bound, timed
 *   cpuProfileTop(file)     the functions that dominate a V8 .cpuprofile
 *
 * Loopback and unix sockets only; every loop is bounded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = new URL('..', import.meta.url).pathname;
export const IMGSWEEP = join(ROOT, 'bin/imgsweep.js');
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------- tar

const BLOCK = 512;
const octal = (value, width) => `${value.toString(8).padStart(width - 1, '0')}\0`;

function tarHeader(name, size, mode, typeflag, linkname = '') {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime 0: same content, same bytes
  h.write('        ', 148, 'ascii');
  h.write(typeflag, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** entries: {type:'file',name,data,mode?} | {type:'dir',name} | {type:'symlink',name,target}. */
export function tar(entries) {
  const parts = [];
  for (const e of entries) {
    if (e.type === 'dir') parts.push(tarHeader(e.name.endsWith('/') ? e.name : `${e.name}/`, 0, 0o755, '5'));
    else if (e.type === 'symlink') parts.push(tarHeader(e.name, 0, 0o777, '2', e.target));
    else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
      parts.push(tarHeader(e.name, data.length, e.mode ?? 0o644, '0'), data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

function parentDirs(paths) {
  const dirs = new Set();
  for (const p of paths) {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort().map((name) => ({ type: 'dir', name }));
}

/** Deterministic pseudo-random bytes (so a layer is the same layer in every run). */
function bytesFor(name, size) {
  const out = Buffer.alloc(size);
  let block = Buffer.from(sha256(name), 'hex');
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A one-file layer; the same name and size give the same layer. */
export function layer(name, bytes = 1024) {
  const file = `data/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.bin`;
  const data = tar([...parentDirs([file]), { type: 'file', name: file, data: bytesFor(name, bytes) }]);
  return { tar: data, diffId: `sha256:${sha256(data)}`, size: bytes };
}

/** The host's /bin/busybox with the libraries it links against, as a layer; null when there is none. */
export function busyboxLayer() {
  if (!existsSync('/bin/busybox')) return null;
  const ldd = spawnSync('ldd', ['/bin/busybox'], { encoding: 'utf8' });
  const libs = [...(ldd.stdout ?? '').matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1].replace(/^\//, ''));
  const entries = [
    ...parentDirs(['bin/busybox', 'tmp/x', ...libs]),
    { type: 'file', name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    { type: 'symlink', name: 'bin/sh', target: 'busybox' },
    ...libs.map((lib) => ({ type: 'file', name: lib, data: readFileSync(`/${lib}`), mode: 0o755 })),
  ];
  const data = tar(entries);
  return { tar: data, diffId: `sha256:${sha256(data)}`, size: data.length };
}

const ARCH = { x64: 'amd64', arm64: 'arm64' };

/**
 * A docker-save archive with many images. images: [{ tags: string[], created: ISO, labels?, layers: [layer] }]
 * (layers from layer()/busyboxLayer(); one layer object may appear in many images and is stored once).
 * Returns the archive and the image IDs in order.
 */
export function saveArchive(images) {
  const entries = [];
  const stored = new Set();
  const manifest = [];
  const ids = [];
  for (const img of images) {
    for (const l of img.layers) {
      const dir = l.diffId.slice(7);
      if (stored.has(dir)) continue;
      stored.add(dir);
      entries.push({ type: 'dir', name: dir }, { type: 'file', name: `${dir}/layer.tar`, data: l.tar });
    }
    const config = JSON.stringify({
      architecture: ARCH[process.arch] ?? process.arch,
      os: 'linux',
      created: img.created,
      config: { Labels: img.labels ?? null, Cmd: ['/bin/busybox', 'true'] },
      rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffId) },
      history: img.layers.map(() => ({ created: img.created, created_by: 'imgsweep bench fixture' })),
    });
    const hex = sha256(config);
    if (!stored.has(hex)) {
      stored.add(hex);
      entries.push({ type: 'file', name: `${hex}.json`, data: config });
    }
    manifest.push({
      Config: `${hex}.json`,
      RepoTags: img.tags?.length ? img.tags : null,
      Layers: img.layers.map((l) => `${l.diffId.slice(7)}/layer.tar`),
    });
    ids.push(`sha256:${hex}`);
  }
  entries.push({ type: 'file', name: 'manifest.json', data: JSON.stringify(manifest) });
  return { archive: tar(entries), ids };
}

// --------------------------------------------------------------------------------------- HTTP on unix

/** One request on a unix socket; resolves {status, body (Buffer), json()}; rejects on transport errors. */
export function api(socketPath, method, path, { body = null, timeoutMs = 600_000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method,
        headers: body ? { 'Content-Type': 'application/x-tar', 'Content-Length': body.length, ...headers } : headers,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode, body: buf, json: () => JSON.parse(buf.toString('utf8')) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

// ------------------------------------------------------------------------------------------- dockerd

const live = new Set();
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  // Last resort on exit: kill the daemons' process groups (the async cleanup could not run).
  process.on('exit', () => {
    for (const e of live) e.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      for (const e of [...live]) await e.stop().catch(() => undefined);
      process.exit(130);
    });
  }
}

/** Mount points at or below dir, deepest first. */
function mountsUnder(dir) {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** PIDs whose process group is `pgid` (from /proc/PID/stat: the field after the state is ppid, then pgrp). */
function groupMembers(pgid) {
  if (!pgid) return [];
  const pids = [];
  let entries = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [pgid]; // no /proc: assume the group is there
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function which(name) {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return null;
}

/**
 * Starts a throwaway dockerd in /tmp/iswb-XXXXXX. Returns { dir, socket, host, env, apiVersion, version,
 * api(method, path, opts), cli(args), load(archive), stop() }.
 */
export async function startDockerd() {
  const bin = which('dockerd');
  if (!bin) throw new Error('dockerd not found: apt-get install -y docker.io');
  hookExit();
  const dir = mkdtempSync('/tmp/iswb-');
  const socket = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
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
      `unix://${socket}`,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  // Signals go to this daemon's process group (dockerd, the containerd it started, their helpers) only while it
  // has members: an empty group's number may be reused.
  const group = (sig) => {
    if (groupMembers(child.pid).length === 0) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // gone
    }
  };
  let stopping = null;
  const engine = {
    dir,
    socket,
    host: `unix://${socket}`,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli-config') },
    /** Last resort at process exit (synchronous): kill the group, unmount, remove the folder. */
    killNow: () => {
      group('SIGKILL');
      for (const point of mountsUnder(dir)) spawnSync('umount', ['-l', point], { timeout: 10_000 });
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // reported by the leftover folder
      }
    },
    api: (method, path, opts) => api(socket, method, path, opts),
    /** Idempotent: every caller waits for the one cleanup (an interrupt and a finally block may race). */
    stop() {
      stopping ??= stopNow();
      return stopping;
    },
  };
  async function stopNow() {
    try {
      if (!exited) {
        const r = await api(socket, 'GET', '/containers/json?all=1', { timeoutMs: 10_000 });
        for (const c of r.status === 200 ? r.json() : [])
          await api(socket, 'DELETE', `/containers/${c.Id}?force=1`, { timeoutMs: 20_000 }).catch(() => undefined);
      }
    } catch {
      // the daemon may be gone already
    }
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      group('SIGTERM');
      await Promise.race([gone, sleep(15_000)]);
      group('SIGKILL');
      await Promise.race([gone, sleep(5_000)]);
    }
    group('SIGKILL'); // containerd and shims left in the group
    for (const point of mountsUnder(dir)) spawnSync('umount', ['-l', point], { timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    live.delete(engine);
  }
  live.add(engine);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await api(socket, 'GET', '/_ping', { timeoutMs: 2_000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (exited || Date.now() > deadline) {
      let tail = '';
      try {
        tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      } catch {
        // no log
      }
      await engine.stop();
      throw new Error(`dockerd did not start; log tail:\n${tail}`);
    }
    await sleep(100);
  }
  const v = (await engine.api('GET', '/version')).json();
  engine.apiVersion = v.ApiVersion;
  engine.version = v.Version;
  engine.cli = (args, opts = {}) => run(which('docker') ?? 'docker', args, { env: engine.env, ...opts });
  const pid = Number(readFileSync(join(dir, 'docker.pid'), 'utf8'));
  /** dockerd's own CPU time so far (user + system), ms. */
  engine.cpuMs = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  };
  /** POST /images/load; throws on an error in the progress stream. */
  engine.load = async (archive) => {
    const r = await engine.api('POST', '/images/load?quiet=1', { body: archive });
    const text = r.body.toString('utf8');
    if (r.status !== 200 || /"error"/.test(text))
      throw new Error(`docker load failed (${r.status}): ${text.slice(0, 500)}`);
  };
  engine.images = async () => (await engine.api('GET', '/images/json?all=1')).json();
  /** Removes every container and image (force): an emptied daemon. */
  engine.empty = async () => {
    for (const c of (await engine.api('GET', '/containers/json?all=1')).json())
      await engine.api('DELETE', `/containers/${c.Id}?force=1`);
    for (let round = 0; round < 5; round++) {
      const imgs = await engine.images();
      if (imgs.length === 0) return;
      for (const i of imgs) await engine.api('DELETE', `/images/${i.Id}?force=1`);
    }
    const left = (await engine.images()).length;
    if (left) throw new Error(`could not empty the daemon: ${left} images left`);
  };
  return engine;
}

// -------------------------------------------------------------------------------------------- proxy

/** "/v1.41/images/sha256%3Aab…/json?x=1" -> "/images/{ref}/json" (method added by the caller). */
export function pathTemplate(url) {
  let p = url.split('?')[0].replace(/^\/v\d+\.\d+(?=\/)/, '');
  p = p.replace(/^\/(images|containers)\/(?!json$|load$|prune$|create$|search$|get$)[^/]+(?=\/|$)/, '/$1/{ref}');
  return p;
}

/**
 * A unix-socket HTTP proxy to a daemon's socket that counts requests by "METHOD /path/{template}" and keeps
 * each request's start and end (ms, performance.now()). Streams bodies both ways.
 */
export async function countingProxy(targetSocket, proxySocket) {
  const counts = new Map();
  const log = [];
  const upstream = new Agent({ keepAlive: true, maxSockets: 64 }); // reuse daemon connections: less added latency
  const server = createServer((req, res) => {
    const key = `${req.method} ${pathTemplate(req.url)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const entry = { key, url: req.url, start: performance.now(), end: null, status: null };
    log.push(entry);
    const up = request(
      { socketPath: targetSocket, agent: upstream, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        entry.status = r.statusCode;
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
        r.on('end', () => (entry.end = performance.now()));
      },
    );
    up.on('error', (e) => {
      entry.end = performance.now();
      res.destroy(e);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  if (existsSync(proxySocket)) unlinkSync(proxySocket);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(proxySocket, resolve);
  });
  return {
    host: `unix://${proxySocket}`,
    counts,
    log,
    total: () => [...counts.values()].reduce((s, v) => s + v, 0),
    reset() {
      counts.clear();
      log.length = 0;
    },
    /** counts as a plain sorted object */
    snapshot: () => Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        upstream.destroy();
        server.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------------------------------ commands

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/**
 * Runs a command with a hard bound; resolves { code, stdout, stderr, ms } (never rejects on exit status). With
 * `cpu`, it runs under bash, whose `times` adds the command's CPU time (user + system, ms) as `cpuMs`.
 */
export function run(cmd, args, { env = process.env, timeoutMs = 300_000, cwd = ROOT, input = null, cpu = false } = {}) {
  if (cpu) {
    return run('bash', ['-c', '"$@"; code=$?; times >&2; exit $code', 'bash', cmd, ...args], {
      env,
      timeoutMs,
      cwd,
      input,
    }).then((r) => {
      const lines = r.stderr.trimEnd().split('\n');
      const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines.at(-1) ?? '');
      if (!m) throw new Error(`no CPU times from bash for ${cmd}: ${r.stderr.slice(-300)}`);
      const cpuMs = (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
      return { ...r, stderr: lines.slice(0, -2).join('\n'), cpuMs };
    });
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 128,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: performance.now() - t0,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** `node bin/imgsweep.js ARGS` (nodeFlags before the script, e.g. --cpu-prof). */
export function imgsweep(args, { env = process.env, nodeFlags = [], timeoutMs = 300_000, cpu = false } = {}) {
  return run(process.execPath, [...nodeFlags, IMGSWEEP, ...args], { env, timeoutMs, cpu });
}

/** Throws with the output when a command failed. */
export function check(r, what) {
  if (r.code !== 0)
    throw new Error(
      `${what} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}:\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-1000)}`,
    );
  return r;
}

// --------------------------------------------------------------------------------------- cpu profile

export { cpuProfileTop } from './cpuprofile.mjs';
