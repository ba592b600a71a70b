/** The dockerode client for a target, and turning its failures into imgsweep's errors. */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { inspect } from 'node:util';
import Docker from 'dockerode';
import { EngineError, EngineUnavailable, ImgsweepError } from '../errors.js';
import type { EngineTarget } from './host.js';
import { engineMessage, statusOf } from './outcome.js';
import { DialStdioAgent } from './ssh.js';

/** Clients for one engine sharing one pool of connections, which close() releases. */
export interface Clients {
  /** `version`: the API version to pin; `timeoutMs`: how long a call may stay silent (none for event streams). */
  docker(version: string | undefined, timeoutMs: number | undefined): Docker;
  close(): void;
}

/** unix:// and tcp:// as dockerode reaches them; ssh:// over the system's OpenSSH (ssh.ts). */
export function makeClients(target: EngineTarget, env: NodeJS.ProcessEnv): Clients {
  const o = target.options;
  let agent: HttpAgent;
  let options: Docker.DockerOptions = o;
  if (o.protocol === 'ssh') {
    agent = new DialStdioAgent(
      { host: String(o.host), port: o.port === undefined ? undefined : String(o.port), user: o.username },
      env,
    );
    // The agent makes every connection; the address dockerode builds its URLs from is only a name.
    options = { ...o, protocol: 'http', host: 'docker', port: undefined, username: undefined };
  } else if (o.protocol === 'https') {
    agent = new HttpsAgent({
      keepAlive: true,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      rejectUnauthorized: target.tls?.verify !== false,
    });
  } else agent = new HttpAgent({ keepAlive: true });
  // docker-modem formats every request's options with util.inspect (for its debug log, even when that is off):
  // the whole agent with all its sockets, which cost an apply most of its CPU. The agent shows as one word.
  Object.defineProperty(agent, inspect.custom, { value: () => 'Agent' });
  return {
    docker(version, timeoutMs) {
      try {
        // `agent` is a documented option that dockerode's types lack.
        return new Docker({
          ...options,
          agent,
          version: version ? `v${version}` : undefined,
          timeout: timeoutMs,
        } as Docker.DockerOptions);
      } catch (error) {
        // dockerode reads DOCKER_HOST and DOCKER_CERT_PATH from the process environment, and may fail on them.
        throw new EngineUnavailable(`cannot set up a client for ${target.host}: ${engineMessage(error)}`, {
          cause: error,
        });
      }
    },
    close: () => agent.destroy(),
  };
}

/** A call that must answer within `ms`; the client's own timeout then closes its connection. */
export function bounded<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

/** One line: what was tried, why it failed, how to point elsewhere. */
export function unavailable(target: EngineTarget, error: unknown): EngineUnavailable {
  const message = engineMessage(error);
  const tried = target.source === 'default' ? `${target.host} (the default)` : `${target.host} (from ${target.source})`;
  // ssh said why (a refused key, an unknown host key): pointing elsewhere would not help.
  if (target.options.protocol === 'ssh' && message.startsWith('ssh exited')) {
    return new EngineUnavailable(`cannot reach the container engine at ${tried}: ${message}`, { cause: error });
  }
  const hint = /EACCES/.test(message) ? ' (permission denied: run as root or as a member of the docker group)' : '';
  const brief = `cannot reach the container engine at ${tried}: ${message}${hint}`;
  return new EngineUnavailable(`${brief}; ${advice(target.source)}`, { cause: error, brief });
}

/** How to point imgsweep elsewhere, for what named the engine: no advice to give --host when it was given. */
function advice(source: string): string {
  if (source === '--host') return 'check the address given with --host, and that the engine runs there';
  if (source === 'DOCKER_HOST') return 'check DOCKER_HOST, or name the engine with --host URL';
  if (source.startsWith('context '))
    return `check the ${source.replace(/ \(.*$/, '')} (docker context inspect), or name the engine with --host URL or --context NAME`;
  return 'point imgsweep at it with --host URL, --context NAME or DOCKER_HOST';
}

/** For reads: a transport failure means the engine is gone, an HTTP error that it refused. */
export function readFailure(target: EngineTarget, error: unknown, what: string): Error {
  if (error instanceof ImgsweepError) return error;
  if (statusOf(error) === null) return unavailable(target, error);
  return new EngineError(`${what} failed: HTTP ${statusOf(error)}: ${engineMessage(error)}`, { cause: error });
}
