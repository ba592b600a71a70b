/** Building the engine client for a target, and turning its failures into imgsweep's errors. */
import type { Agent as HttpAgent } from 'node:http';
import { createRequire, Module } from 'node:module';
import type DockerModem from 'docker-modem';
import { EngineError, EngineUnavailable, ImgsweepError } from '../errors.js';
import type { EngineTarget } from './host.js';
import { engineMessage, statusOf } from './outcome.js';
import { DEFAULT_OK, HttpTransport, http, https, type Call, type Query, type Transport } from './request.js';
import { SocketPool, SocketTransport } from './socket.js';

const require = createRequire(import.meta.url);
let modemClass: typeof DockerModem | null = null;

/**
 * docker-modem, with its ssh transport loaded only when an ssh:// engine is used: the modem requires it (and
 * ssh2, ~45 ms to load) at start-up, for every local run. A stand-in module forwards to the real one.
 */
function loadModem(): typeof DockerModem {
  if (modemClass) return modemClass;
  const sshFile = require.resolve('docker-modem/lib/ssh.js');
  if (!require.cache[sshFile]) {
    let real: ((opt: object) => unknown) | null = null;
    const standIn = new Module(sshFile);
    standIn.filename = sshFile;
    standIn.loaded = true;
    standIn.exports = (opt: object): unknown => {
      if (!real) {
        delete require.cache[sshFile];
        real = require(sshFile) as (opt: object) => unknown;
      }
      return real(opt);
    };
    require.cache[sshFile] = standIn;
  }
  modemClass = require('docker-modem') as typeof DockerModem;
  return modemClass;
}

/** Our own connections to an engine, so close() can release them (ssh brings its own agent). */
export interface Pools {
  /** node:http's, for tcp:// and for event streams: made on first use. */
  agent: (() => HttpAgent) | undefined;
  /** A local engine's calls (socket.ts). */
  sockets: SocketPool | undefined;
  destroy(): void;
}

export function poolsFor(target: EngineTarget): Pools {
  const o = target.options;
  if (o.protocol === 'ssh') return { agent: undefined, sockets: undefined, destroy: () => undefined };
  let made: HttpAgent | undefined;
  const agent = (): HttpAgent => {
    made ??= o.protocol === 'https' ? new (https().Agent)({ keepAlive: true, rejectUnauthorized: target.tls?.verify !== false }) : new (http().Agent)({ keepAlive: true });
    return made;
  };
  const sockets = o.socketPath === undefined ? undefined : new SocketPool(o.socketPath);
  return {
    agent,
    sockets,
    destroy: () => {
      made?.destroy();
      sockets?.destroy();
    },
  };
}

type SshOptions = NonNullable<DockerModem.ConstructorOptions['sshOptions']>;

/**
 * For ssh://, the host goes to ssh2 as sshOptions.hostname (which ssh2 prefers to host, and the modem does not
 * overwrite) and not to the modem: from a bare host and the non-special "ssh:" scheme the modem builds request
 * URLs like "ssh:HOST:PORTHOST" with url.format/url.resolve, and Node warns on each run (DEP0170 "The URL … is
 * invalid"; later versions will throw). Without a host the modem requests the bare path, which is all the ssh
 * transport needs: it dials the engine through `docker system dial-stdio` whatever the URL says.
 */
function modemOptions(target: EngineTarget): DockerModem.ConstructorOptions {
  const options = target.options;
  if (options.protocol !== 'ssh') return options;
  const check = target.hostKey;
  const hostVerifier = check ? (key: Buffer): boolean => check.verify(key) : undefined;
  const sshOptions: SshOptions & { hostname?: string } = { ...options.sshOptions, hostname: options.host, hostVerifier };
  return { ...options, host: undefined, sshOptions };
}

/**
 * The client for a target: plain HTTP over the socket for unix:// (streams through node:http), node:http for
 * tcp://, docker-modem's ssh transport for ssh://.
 */
export function makeTransport(target: EngineTarget, pools: Pools | undefined, apiVersion: string | undefined): Transport {
  const o = target.options;
  if (o.protocol === 'ssh') return new ModemTransport(makeModem(target, apiVersion));
  const pem = (v: unknown) => (typeof v === 'string' || Buffer.isBuffer(v) ? v : undefined);
  const viaNode = new HttpTransport(
    { socketPath: o.socketPath, host: o.host, port: o.port, https: o.protocol === 'https', ca: pem(o.ca), cert: pem(o.cert), key: pem(o.key) },
    pools?.agent,
    apiVersion,
  );
  return o.socketPath !== undefined ? new SocketTransport(pools?.sockets ?? new SocketPool(o.socketPath), apiVersion, viaNode) : viaNode;
}

/** ssh:// through the modem: ssh2 dials `docker system dial-stdio` on the server for each request. */
class ModemTransport implements Transport {
  constructor(private readonly modem: DockerModem) {}

  call(c: Call): Promise<unknown> {
    const statusCodes: Record<number, boolean> = {};
    for (const code of c.ok ?? DEFAULT_OK) statusCodes[code] = true;
    const signal = AbortSignal.timeout(c.timeoutMs);
    return new Promise((resolve, reject) => {
      this.modem.dial({ ...this.address(c.path, c.query), method: c.method, statusCodes, abortSignal: signal }, (error, result) => {
        if (!error) resolve(result);
        else if (signal.aborted && (error as { statusCode?: unknown }).statusCode === undefined) {
          reject(new Error(`${c.method} ${c.path} timed out after ${c.timeoutMs} ms`, { cause: error }));
        } else reject(error);
      });
    });
  }

  stream(path: string, query: Query, signal: AbortSignal, timeoutMs: number): Promise<NodeJS.ReadableStream> {
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new Error(`GET ${path} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.modem.dial({ ...this.address(path, query), method: 'GET', isStream: true, statusCodes: { 200: true }, abortSignal: signal }, (error, result) => {
        clearTimeout(timer);
        const stream = result as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
        // An answer after the deadline has nobody to read it.
        if (late) stream?.destroy?.();
        else if (error) reject(error);
        else resolve(stream!);
      });
    });
  }

  /** The modem appends the query only to a path holding '?', and with no options it cuts the path's last char. */
  private address(path: string, query: Query | undefined): { path: string; options?: Query } {
    const hasQuery = query !== undefined && Object.keys(query).length > 0;
    return hasQuery ? { path: `${path}?`, options: { ...query } } : { path };
  }
}

function makeModem(target: EngineTarget, apiVersion: string | undefined): DockerModem {
  const version = apiVersion ? `v${apiVersion}` : undefined;
  try {
    // No modem timeout: its ssh transport hands http an ssh2 channel, which has no setTimeout(), so a timeout makes
    // every request throw "sock.setTimeout is not a function" out of band (an uncaught exception) and hang. Each
    // call has its own deadline (an AbortSignal) instead.
    const Modem = loadModem();
    return new Modem({ ...modemOptions(target), version });
  } catch (error) {
    throw new EngineUnavailable(`cannot set up a client for ${target.host}: ${engineMessage(error)}`, { cause: error });
  }
}

/**
 * ssh2 tags its errors with a level. A refused login ("All configured authentication methods failed") or an
 * unusable agent ("Failed to connect to agent") says nothing of ssh-agent, the only way imgsweep logs in (unlike the
 * docker CLI, it reads no ~/.ssh keys): say where the keys were looked for. Null for other failures.
 */
function sshLoginHint(target: EngineTarget, error: unknown): string | null {
  if (target.options.protocol !== 'ssh') return null;
  const level = (error as { level?: unknown } | null)?.level;
  const agent = target.options.sshOptions?.agent;
  const socket = typeof agent === 'string' ? agent : null;
  if (level === 'agent') return `cannot use the ssh-agent at SSH_AUTH_SOCK=${socket ?? '?'}: is it running?`;
  if (level !== 'client-authentication') return null;
  return socket === null
    ? 'SSH_AUTH_SOCK is not set: imgsweep logs in with the keys of a running ssh-agent only (ssh-add your key)'
    : `the ssh-agent at SSH_AUTH_SOCK=${socket} holds no key that ${target.host} accepts (ssh-add it)`;
}

/** One line: what was tried, why it failed, how to point elsewhere. */
export function unavailable(target: EngineTarget, error: unknown): EngineUnavailable {
  const message = engineMessage(error);
  const tried = target.source === 'default' ? `${target.host} (the default)` : `${target.host} (from ${target.source})`;
  const refused = target.hostKey?.problem;
  if (refused) return new EngineUnavailable(`refusing the container engine at ${tried}: ${refused}`, { cause: error });
  const login = sshLoginHint(target, error);
  // The address is right, the login is not: pointing elsewhere would not help.
  if (login !== null) return new EngineUnavailable(`cannot log in to the container engine at ${tried}: ${message}; ${login}`, { cause: error });
  const hint = /EACCES/.test(message) ? ' (permission denied: run as root or as a member of the docker group)' : '';
  return new EngineUnavailable(
    `cannot reach the container engine at ${tried}: ${message}${hint}; point imgsweep at it with --host URL or DOCKER_HOST`,
    { cause: error },
  );
}

/** For reads: a transport failure means the engine is gone, an HTTP error that it refused. */
export function readFailure(target: EngineTarget, error: unknown, what: string): Error {
  if (error instanceof ImgsweepError) return error;
  if (statusOf(error) === null) return unavailable(target, error);
  return new EngineError(`${what} failed: HTTP ${statusOf(error)}: ${engineMessage(error)}`, { cause: error });
}
