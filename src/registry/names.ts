/** Where a digest reference lives, as the Docker CLI reads a name: registry, the host to ask, repository, digest. */
import { parseReference } from '../inventory/reference.js';

export interface DigestTarget {
  /** The registry as the Docker CLI names it: docker.io, ghcr.io, localhost:5000. */
  registry: string;
  /** The host (with port) that serves the registry's API: registry-1.docker.io for Docker Hub. */
  host: string;
  /** The repository within the registry: library/nginx. */
  name: string;
  /** sha256:… */
  digest: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';
/** The key Docker Hub's credentials are stored under in config.json, and the address its helpers are asked for. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

// The distribution reference grammar's digest, and the path components of a repository name.
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The target of "repo@sha256:…" (a tag before the digest is ignored, as the engine does), or why it has none. */
export function digestTarget(reference: string): DigestTarget | { error: string } {
  const ref = parseReference(reference);
  if (ref.digest === null || !DIGEST.test(ref.digest)) return { error: 'not a digest reference (repo@sha256:…)' };
  let normalized = ref.normalized;
  const colon = normalized.lastIndexOf(':');
  if (colon > normalized.lastIndexOf('/')) normalized = normalized.slice(0, colon); // repo:tag@digest
  const slash = normalized.indexOf('/');
  const registry = normalized.slice(0, slash);
  const name = normalized.slice(slash + 1);
  if (registry === '' || !name.split('/').every((part) => PATH_COMPONENT.test(part))) {
    return { error: 'not a valid repository name' };
  }
  const host = registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry;
  return { registry, host, name, digest: ref.digest };
}

/** The address config.json keys a registry's credentials by, and the one a credential helper is asked about. */
export function authKey(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
}

/** A config.json auths key reduced to a registry name, as the Docker CLI's ConvertToHostname does. */
export function authKeyRegistry(key: string): string {
  const bare = key.replace(/^https?:\/\//, '');
  const host = bare.split('/')[0] ?? bare;
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}
