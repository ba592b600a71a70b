/** The Docker CLI's config.json as far as registry credentials go: auths, credHelpers, credsStore. */
import { authKey, authKeyRegistry } from './names.js';

/** Credentials for one registry: a user and password, or an identity token (an OAuth2 refresh token). */
export type Credentials =
  { kind: 'basic'; username: string; password: string } | { kind: 'identity'; username: string; token: string };

export interface DockerConfig {
  /** auths entries by their key as written (https://index.docker.io/v1/, ghcr.io, http://host:5000/v2/ …). */
  auths: Record<string, Credentials | null>;
  credHelpers: Record<string, string>;
  credsStore: string | null;
}

/** Where a registry's credentials come from, in the Docker CLI's order: credHelpers[host], credsStore, auths. */
export type CredentialSource =
  | { kind: 'none' }
  | { kind: 'file'; credentials: Credentials }
  | { kind: 'helper'; helper: string; serverAddress: string };

export const EMPTY_CONFIG: DockerConfig = { auths: {}, credHelpers: {}, credsStore: null };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** One auths entry: `auth` (base64 user:password) wins over username/password; an identitytoken over both. */
export function entryCredentials(entry: unknown): Credentials | null {
  if (!isObject(entry)) return null;
  let username = text(entry.username);
  let password = text(entry.password);
  const auth = text(entry.auth);
  if (auth !== '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const token = text(entry.identitytoken);
  if (token !== '') return { kind: 'identity', username, token };
  if (username === '' && password === '') return null;
  return { kind: 'basic', username, password };
}

/**
 * Parses config.json. Throws on text that is not a JSON object, with a message that quotes none of it (the
 * text holds credentials, and JSON.parse's own message quotes the text around the fault).
 */
export function parseDockerConfig(source: string): DockerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(source);
  } catch {
    throw new Error('config.json is not valid JSON');
  }
  if (!isObject(raw)) throw new Error('config.json is not a JSON object');
  const auths: Record<string, Credentials | null> = {};
  if (isObject(raw.auths)) for (const [key, entry] of Object.entries(raw.auths)) auths[key] = entryCredentials(entry);
  const credHelpers: Record<string, string> = {};
  if (isObject(raw.credHelpers)) {
    for (const [host, helper] of Object.entries(raw.credHelpers))
      if (text(helper) !== '') credHelpers[host] = text(helper);
  }
  return { auths, credHelpers, credsStore: text(raw.credsStore) || null };
}

/** Where the Docker CLI would take `registry`'s credentials from (docker.io for Docker Hub). */
export function credentialSource(config: DockerConfig, registry: string): CredentialSource {
  const serverAddress = authKey(registry);
  const helper = config.credHelpers[registry] ?? config.credsStore;
  if (helper) return { kind: 'helper', helper, serverAddress };
  const exact = config.auths[serverAddress];
  if (exact) return { kind: 'file', credentials: exact };
  for (const [key, credentials] of Object.entries(config.auths)) {
    if (credentials && authKeyRegistry(key) === registry) return { kind: 'file', credentials };
  }
  return { kind: 'none' };
}
