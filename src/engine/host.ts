/** Where to reach the engine: --host, else DOCKER_HOST, else the local socket; as dockerode options. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { EngineUnavailable, UsageError } from '../errors.js';

export const DEFAULT_HOST = 'unix:///var/run/docker.sock';

export interface EngineTarget {
  /** The URL as the user should see it (no credentials). */
  host: string;
  /** Where the host came from, for messages: "--host", "DOCKER_HOST" or "default". */
  source: '--host' | 'DOCKER_HOST' | 'default';
  options: Docker.DockerOptions;
}

export function resolveHost(explicit: string | undefined, env: NodeJS.ProcessEnv): Pick<EngineTarget, 'host' | 'source'> {
  if (explicit !== undefined && explicit.trim() !== '') return { host: explicit.trim(), source: '--host' };
  const fromEnv = env.DOCKER_HOST?.trim();
  if (fromEnv) return { host: fromEnv, source: 'DOCKER_HOST' };
  return { host: DEFAULT_HOST, source: 'default' };
}

/** TLS is on when DOCKER_TLS_VERIFY is set to anything but "" or "0" (the CLI's rule, minus its "0 means on" trap). */
export function tlsEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env.DOCKER_TLS_VERIFY;
  return v !== undefined && v !== '' && v !== '0';
}

type ReadFile = (path: string) => Buffer;

function tlsFiles(env: NodeJS.ProcessEnv, readFile: ReadFile): Pick<Docker.DockerOptions, 'ca' | 'cert' | 'key'> {
  const dir = env.DOCKER_CERT_PATH || join(env.HOME || homedir(), '.docker');
  const read = (name: string): Buffer => {
    try {
      return readFile(join(dir, name));
    } catch (error) {
      throw new EngineUnavailable(
        `TLS is on (DOCKER_TLS_VERIFY) but ${join(dir, name)} cannot be read: set DOCKER_CERT_PATH to the folder ` +
          'holding ca.pem, cert.pem and key.pem',
        { cause: error },
      );
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

/**
 * Every connection field is set, even to undefined: dockerode fills unset ones from process.env's DOCKER_HOST,
 * which would silently override an explicit --host.
 */
export function targetFor(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  readFile: ReadFile = (p) => readFileSync(p),
): EngineTarget {
  const { host, source } = resolveHost(explicit, env);
  const bad = (why: string): never => {
    throw new UsageError(`${source === 'default' ? 'engine host' : source} "${host}": ${why}`);
  };
  const base: Docker.DockerOptions = { socketPath: undefined, host: undefined, port: undefined, protocol: 'http' };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) bad('expected unix:///absolute/path/to/docker.sock');
    return { host, source, options: { ...base, socketPath } };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return bad('expected unix:///path, tcp://host:port or ssh://user@host');
  }
  if (url.hostname === '') bad('no host name');
  if (url.protocol === 'tcp:') {
    const tls = tlsEnabled(env);
    const port = url.port || (tls ? '2376' : '2375');
    const options = { ...base, host: url.hostname, port, protocol: tls ? 'https' : 'http' } as const;
    return {
      host: `tcp://${url.hostname}:${port}`,
      source,
      options: tls ? { ...options, ...tlsFiles(env, readFile) } : options,
    };
  }
  if (url.protocol === 'ssh:') {
    const port = url.port || '22';
    const user = decodeURIComponent(url.username);
    return {
      host: `ssh://${user ? `${user}@` : ''}${url.hostname}${url.port ? `:${url.port}` : ''}`,
      source,
      options: {
        ...base,
        host: url.hostname,
        port,
        protocol: 'ssh',
        username: user || undefined,
        sshOptions: env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {},
      },
    };
  }
  return bad(`unsupported scheme ${url.protocol}// (use unix://, tcp:// or ssh://)`);
}
