/** Image references (repo:tag, repo@digest) and repository normalization, as the engine's distribution code does it. */

export interface Reference {
  /** The reference exactly as the engine lists it. */
  text: string;
  kind: 'tag' | 'digest';
  /** Repository as listed: nginx, ghcr.io/o/app, docker.io/library/nginx (Podman). */
  repository: string;
  /** Fully qualified: docker.io/library/nginx. Used for grouping and reports. */
  normalized: string;
  /** Short form `docker images` shows: nginx. */
  familiar: string;
  tag: string | null;
  digest: string | null;
  /** The names a repository pattern is tried against (see repositoryNames). */
  names: readonly string[];
}

const DEFAULT_DOMAIN = 'docker.io';

function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash === -1) return [DEFAULT_DOMAIN, `library/${name}`];
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    const domain = first === 'index.docker.io' ? DEFAULT_DOMAIN : first;
    if (domain === DEFAULT_DOMAIN && !rest.includes('/')) return [domain, `library/${rest}`];
    return [domain, rest];
  }
  return [DEFAULT_DOMAIN, name];
}

const repoCache = new Map<string, { normalized: string; familiar: string; names: string[] }>();

/** Normalized and familiar forms of a repository, and the names patterns see; cached (repositories repeat). */
function repositoryForms(repository: string): { normalized: string; familiar: string; names: string[] } {
  let hit = repoCache.get(repository);
  if (!hit) {
    const { normalized, familiar } = normalizeRepository(repository);
    const names = [repository];
    if (normalized !== repository) names.push(normalized);
    if (familiar !== repository && familiar !== normalized) names.push(familiar);
    if (normalized.startsWith('localhost/')) names.push(normalized.slice('localhost/'.length));
    hit = { normalized, familiar, names };
    if (repoCache.size > 100_000) repoCache.clear();
    repoCache.set(repository, hit);
  }
  return hit;
}

export function normalizeRepository(repository: string): { normalized: string; familiar: string } {
  const [domain, path] = splitDomain(repository);
  const normalized = `${domain}/${path}`;
  let familiar = normalized;
  if (domain === DEFAULT_DOMAIN) {
    familiar = path.startsWith('library/') && path.indexOf('/', 8) === -1 ? path.slice(8) : path;
  }
  return { normalized, familiar };
}

/**
 * Parses "repo:tag" or "repo@sha256:..." (as listed by the engine). Only the repository's forms are cached: a
 * reference names one image, so an inventory rarely repeats one (a cache of them only cost time and memory).
 */
export function parseReference(text: string): Reference {
  let repository: string;
  let tag: string | null = null;
  let digest: string | null = null;
  const at = text.indexOf('@');
  if (at !== -1) {
    repository = text.slice(0, at);
    digest = text.slice(at + 1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon > text.lastIndexOf('/')) {
      repository = text.slice(0, colon);
      tag = text.slice(colon + 1);
    } else {
      repository = text;
      tag = 'latest';
    }
  }
  const { normalized, familiar, names } = repositoryForms(repository);
  return { text, kind: digest ? 'digest' : 'tag', repository, normalized, familiar, tag, digest, names };
}

/** Names a repository pattern is tried against: as listed, normalized, familiar, and Podman's localhost/ stripped. */
export function repositoryNames(ref: Reference): readonly string[] {
  return ref.names;
}

/** The reference in normalized form, for stable reports: docker.io/library/nginx:1.25 */
export function normalizedText(ref: Reference): string {
  return ref.kind === 'tag' ? `${ref.normalized}:${ref.tag}` : `${ref.normalized}@${ref.digest}`;
}
