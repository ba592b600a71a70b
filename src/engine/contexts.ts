/**
 * The Docker CLI's contexts, read (never written) the way the docker CLI stores them:
 * `$DOCKER_CONFIG` (default ~/.docker), `contexts/meta/<sha256(name)>/meta.json` holding `Endpoints.docker.Host`
 * and `SkipTLSVerify`, and the TLS material in `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`.
 * dockerode reads none of this, so imgsweep does.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/** The context that means "the usual resolution": --host, DOCKER_HOST, else the local socket. */
export const DEFAULT_CONTEXT = 'default';

export interface DockerContext {
  name: string;
  /** Endpoints.docker.Host: unix://, tcp://, ssh://. */
  host: string;
  skipTlsVerify: boolean;
  /** The context's TLS files that exist (paths), each optional as in the docker CLI. */
  tls: { ca: string | null; cert: string | null; key: string | null };
  /** The meta.json it was read from, for messages. */
  metaFile: string;
}

/** Where the docker CLI keeps config.json and contexts: $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  const configured = env.DOCKER_CONFIG?.trim();
  return configured ? configured : join(env.HOME || homedir(), '.docker');
}

/** The folder name the docker CLI stores a context under: the hex sha256 of its name. */
export function contextId(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

function readJson(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${path}: not valid JSON (${(error as Error).message}); fix or remove it`, { cause: error });
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The names of the contexts stored under the config folder, sorted (not counting "default"). */
export function listContexts(env: NodeJS.ProcessEnv): string[] {
  const metaDir = join(dockerConfigDir(env), 'contexts', 'meta');
  let ids: string[];
  try {
    ids = readdirSync(metaDir);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const id of ids) {
    try {
      const meta = JSON.parse(readFileSync(join(metaDir, id, 'meta.json'), 'utf8')) as unknown;
      if (isObj(meta) && typeof meta.Name === 'string' && meta.Name !== '') names.push(meta.Name);
    } catch {
      // Not a context (or a damaged one): not listed, as `docker context ls` would complain about it instead.
    }
  }
  return [...new Set(names)].sort();
}

/** One stored context, or null when there is none by that name. Malformed ones are usage errors naming the file. */
export function readContext(name: string, env: NodeJS.ProcessEnv): DockerContext | null {
  const config = dockerConfigDir(env);
  const id = contextId(name);
  const metaFile = join(config, 'contexts', 'meta', id, 'meta.json');
  if (!existsSync(metaFile)) return null;
  let meta: unknown;
  try {
    meta = readJson(metaFile);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`context "${name}": ${error.message}`, { cause: error });
    throw new UsageError(`context "${name}": cannot read ${metaFile}: ${(error as Error).message}`, { cause: error });
  }
  const endpoints = isObj(meta) && isObj(meta.Endpoints) ? meta.Endpoints : {};
  const docker = endpoints.docker;
  if (!isObj(docker) || typeof docker.Host !== 'string' || docker.Host.trim() === '') {
    throw new UsageError(`context "${name}" has no docker endpoint (no Endpoints.docker.Host in ${metaFile})`);
  }
  const tlsDir = join(config, 'contexts', 'tls', id, 'docker');
  const file = (base: string): string | null => (existsSync(join(tlsDir, base)) ? join(tlsDir, base) : null);
  return {
    name,
    host: docker.Host.trim(),
    skipTlsVerify: docker.SkipTLSVerify === true,
    tls: { ca: file('ca.pem'), cert: file('cert.pem'), key: file('key.pem') },
    metaFile,
  };
}

/** A stored context, or a usage error (exit 2) that lists the known ones. `via` names where the name came from. */
export function requireContext(name: string, env: NodeJS.ProcessEnv, via: string): DockerContext {
  const found = readContext(name, env);
  if (found) return found;
  const known = [DEFAULT_CONTEXT, ...listContexts(env)].join(', ');
  throw new UsageError(
    `${via} "${name}": no such Docker context in ${join(dockerConfigDir(env), 'contexts')} (known: ${known})`,
  );
}

/**
 * The context the docker CLI would use when neither --host nor DOCKER_HOST is given: DOCKER_CONTEXT, else
 * config.json's currentContext; null when neither names one.
 */
export function currentContextName(env: NodeJS.ProcessEnv): { name: string; via: string } | null {
  const fromEnv = env.DOCKER_CONTEXT?.trim();
  if (fromEnv) return { name: fromEnv, via: 'DOCKER_CONTEXT' };
  const configFile = join(dockerConfigDir(env), 'config.json');
  if (!existsSync(configFile)) return null;
  let config: unknown;
  try {
    config = readJson(configFile);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return null; // unreadable (permissions): the docker CLI would warn and go on with the default
  }
  const current = isObj(config) && typeof config.currentContext === 'string' ? config.currentContext.trim() : '';
  return current ? { name: current, via: `currentContext (${configFile})` } : null;
}
