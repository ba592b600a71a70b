/** API version negotiation, Docker/Podman detection and the engine's identity, from /version and /info. */
import { createHash } from 'node:crypto';
import type { EngineIdentity, EngineKind } from '../inventory/types.js';
import { EngineError } from '../errors.js';
import { asObj, fail, isObj, optStr, type Obj } from './shape.js';

/**
 * The newest API whose response shapes imgsweep knows (/system/df's new fields and verbose lists, events without
 * status/id/from, an image inspect without an empty Parent, no VirtualSize, no <none>:<none> placeholders).
 */
export const OUR_API_VERSION = '1.52';

function parseVersion(v: string): [number, number] | null {
  const m = /^v?(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function compareApi(a: string, b: string): number {
  const [a0, a1] = parseVersion(a) ?? [0, 0];
  const [b0, b1] = parseVersion(b) ?? [0, 0];
  return a0 - b0 || a1 - b1;
}

/** min(ours, the server's), raised to the server's minimum if ours is older than it supports. */
export function negotiateApiVersion(version: unknown, ours = OUR_API_VERSION): string {
  const o = asObj(version, 'GET /version');
  const server = optStr(o, 'ApiVersion', 'GET /version');
  if (server === null || parseVersion(server) === null)
    fail('GET /version.ApiVersion', 'an API version like "1.41"', server);
  const min = optStr(o, 'MinAPIVersion', 'GET /version');
  const pinned = compareApi(ours, server) < 0 ? ours : server;
  if (min !== null && parseVersion(min) !== null && compareApi(pinned, min) < 0)
    throw new EngineError(
      `the engine accepts API ${min} and newer; this imgsweep speaks API ${ours} at most: upgrade imgsweep (or set the engine's DOCKER_MIN_API_VERSION)`,
    );
  return pinned.replace(/^v/, '');
}

export function detectKind(version: unknown): EngineKind {
  const o = asObj(version, 'GET /version');
  const names: unknown[] = [isObj(o.Platform) ? o.Platform.Name : undefined];
  if (Array.isArray(o.Components)) names.push(...o.Components.map((c) => (isObj(c) ? c.Name : undefined)));
  return names.some((n) => typeof n === 'string' && /podman/i.test(n)) ? 'podman' : 'docker';
}

/** Daemons on one host can share /info ID (20.10 reads it from /etc/docker/key.json), so add root dir and name. */
export function engineKey(id: string, rootDir: string, name: string): string {
  return createHash('sha256').update(`${id}\0${rootDir}\0${name}`).digest('hex').slice(0, 16);
}

export function imageStoreOf(info: Obj): 'classic' | 'containerd' {
  const status = Array.isArray(info.DriverStatus) ? info.DriverStatus : [];
  const containerd = status.some(
    (pair) => Array.isArray(pair) && pair[0] === 'driver-type' && pair[1] === 'io.containerd.snapshotter.v1',
  );
  return containerd ? 'containerd' : 'classic';
}

/**
 * Where containerd keeps its data, when /info names it: a DriverStatus "Root Dir" pair, or a root among the
 * Containerd fields. Docker 27 to 29 name neither (the containerd store's DriverStatus is only its driver type,
 * and Containerd only its address and namespaces), and containerd's root cannot be told from its address.
 */
export function containerdRootOf(info: Obj): string | null {
  const status = Array.isArray(info.DriverStatus) ? info.DriverStatus : [];
  for (const pair of status) {
    if (Array.isArray(pair) && /^root ?dir$/i.test(String(pair[0])) && isAbsolute(pair[1])) return pair[1];
  }
  const c = isObj(info.Containerd) ? info.Containerd : {};
  const root = [c.Root, c.RootDir].find(isAbsolute);
  return root ?? null;
}

const isAbsolute = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/');

export function mapIdentity(version: unknown, info: unknown, apiVersion: string, host: string): EngineIdentity {
  const v = asObj(version, 'GET /version');
  const i = asObj(info, 'GET /info');
  const kind = detectKind(v);
  // Podman (4.x) answers /info with a fresh random UUID as ID on every call: it identifies nothing, so its
  // key rests on the storage root and host name alone, and no ID is recorded.
  const id = kind === 'podman' ? '' : (optStr(i, 'ID', 'GET /info') ?? '');
  const name = optStr(i, 'Name', 'GET /info') ?? '';
  const rootDir = optStr(i, 'DockerRootDir', 'GET /info') ?? '';
  const identity: EngineIdentity = {
    key: engineKey(kind === 'podman' ? 'podman' : id, rootDir, name),
    id,
    name,
    kind,
    version: optStr(v, 'Version', 'GET /version') ?? optStr(i, 'ServerVersion', 'GET /info') ?? '',
    apiVersion,
    rootDir,
    driver: optStr(i, 'Driver', 'GET /info') ?? '',
    imageStore: imageStoreOf(i),
    host,
  };
  const containerdRoot = identity.imageStore === 'containerd' ? containerdRootOf(i) : null;
  return containerdRoot ? { ...identity, containerdRoot } : identity;
}
