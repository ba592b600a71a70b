/**
 * Where to reach the engine, as dockerode options: --host, else --context, else DOCKER_HOST, else the docker CLI's
 * current context (DOCKER_CONTEXT, config.json's currentContext), else the local socket. tcp:// engines use TLS
 * from the --tls-* flags, a context's TLS files, or DOCKER_TLS_VERIFY/DOCKER_CERT_PATH (flags win, file by file).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type Docker from 'dockerode';
import { EngineUnavailable, InputError, UsageError } from '../errors.js';
import {
  currentContextName,
  DEFAULT_CONTEXT,
  dockerConfigDir,
  requireContext,
  type DockerContext,
} from './contexts.js';

export const DEFAULT_HOST = 'unix:///var/run/docker.sock';

/** Where the engine address came from, for messages ("cannot reach … (from context "prod")"). */
export type EngineSource = '--host' | 'DOCKER_HOST' | 'default' | `context ${string}`;

/** The TLS side of the command line: --tls-verify, --tls-ca FILE, --tls-cert FILE, --tls-key FILE. */
export interface TlsFlags {
  verify?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

/** Connection settings beyond the address: what the command line adds to --host / the environment. */
export interface ConnectionSettings {
  /** --context NAME: a Docker CLI context ("default": the usual resolution). Excludes an explicit host. */
  context?: string;
  tls?: TlsFlags;
}

/** How a tcp:// engine is reached over TLS, for messages: the files in use and where TLS was asked for. */
export interface TlsInfo {
  /** False only for a context that sets SkipTLSVerify (and no --tls-verify). */
  verify: boolean;
  /** CA file; null: the system's CAs. */
  ca: string | null;
  cert: string | null;
  key: string | null;
  /** "--tls-verify", "DOCKER_TLS_VERIFY" or `context "NAME"`. */
  origin: string;
}

export interface EngineTarget {
  /** The URL as the user should see it (no credentials). */
  host: string;
  source: EngineSource;
  options: Docker.DockerOptions;
  /** Set for tcp:// with TLS. */
  tls?: TlsInfo;
  /** The Docker CLI context the address came from, if any. */
  context?: string;
}

interface Endpoint {
  host: string;
  source: EngineSource;
  context: DockerContext | null;
}

/** --host, --context, DOCKER_HOST, DOCKER_CONTEXT / currentContext, the local socket: in the docker CLI's order. */
export function resolveHost(explicit: string | undefined, env: NodeJS.ProcessEnv, context?: string): Endpoint {
  const named = context?.trim();
  if (explicit !== undefined && explicit.trim() !== '') {
    if (named)
      throw new UsageError(`--host "${explicit.trim()}" and --context "${named}" name the same engine twice: give one`);
    return { host: explicit.trim(), source: '--host', context: null };
  }
  if (named && named !== DEFAULT_CONTEXT) {
    const found = requireContext(named, env, '--context');
    return { host: found.host, source: `context "${named}"`, context: found };
  }
  const fromEnv = env.DOCKER_HOST?.trim();
  if (fromEnv) return { host: fromEnv, source: 'DOCKER_HOST', context: null };
  // "--context default" is the usual resolution without the CLI's current context.
  const current = named ? null : currentContextName(env);
  if (current && current.name !== DEFAULT_CONTEXT) {
    const found = requireContext(current.name, env, current.via);
    return {
      host: found.host,
      source: `context "${current.name}" (${current.via.replace(/ \(.*$/, '')})`,
      context: found,
    };
  }
  return { host: DEFAULT_HOST, source: 'default', context: null };
}

/** TLS is on when DOCKER_TLS_VERIFY is set to anything but "" or "0" (the CLI's rule, minus its "0 means on" trap). */
export function tlsEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env.DOCKER_TLS_VERIFY;
  return v !== undefined && v !== '' && v !== '0';
}

type ReadFile = (path: string) => Buffer;

const defaultRead: ReadFile = (p) => readFileSync(p);

type Kind = 'ca' | 'cert' | 'key';
const FLAG: Record<Kind, string> = { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' };

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}

/** An optional default file: absent (or unreadable in an injected test reader) gives null; other errors count. */
function absent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined || code === 'ENOENT' || code === 'ENOTDIR';
}

interface TlsMaterial {
  info: TlsInfo;
  options: Pick<Docker.DockerOptions, 'ca' | 'cert' | 'key'>;
}

/** The TLS settings of one tcp:// engine, or null for plain TCP. */
function tlsFor(endpoint: Endpoint, env: NodeJS.ProcessEnv, flags: TlsFlags, readFile: ReadFile): TlsMaterial | null {
  const flagged = Boolean(flags.verify || flags.ca || flags.cert || flags.key);
  const ctx = endpoint.context;
  const on =
    flagged || (ctx ? Boolean(ctx.skipTlsVerify || ctx.tls.ca || ctx.tls.cert || ctx.tls.key) : tlsEnabled(env));
  if (!on) return null;
  const origin = flagged
    ? flags.verify
      ? '--tls-verify'
      : '--tls-* flags'
    : ctx
      ? `context "${ctx.name}"`
      : 'DOCKER_TLS_VERIFY';
  const certPath = env.DOCKER_CERT_PATH?.trim();
  const files: Record<Kind, string | null> = { ca: null, cert: null, key: null };
  const data: Partial<Record<Kind, Buffer>> = {};
  for (const kind of ['ca', 'cert', 'key'] as const) {
    const flag = flags[kind];
    if (flag) {
      // Named on the command line: must be there.
      try {
        data[kind] = readFile(flag);
      } catch (error) {
        throw new InputError(`${FLAG[kind]} ${flag}: cannot read it (${why(error)})`, { cause: error });
      }
      files[kind] = flag;
      continue;
    }
    const base = `${kind}.pem`;
    if (ctx) {
      // A context's TLS files are each optional, as in the docker CLI.
      const path = ctx.tls[kind];
      if (path === null) continue;
      try {
        data[kind] = readFile(path);
      } catch (error) {
        throw new InputError(`context "${ctx.name}": cannot read ${path} (${why(error)})`, { cause: error });
      }
      files[kind] = path;
    } else if (certPath) {
      const path = join(certPath, base);
      try {
        data[kind] = readFile(path);
      } catch (error) {
        throw new EngineUnavailable(
          `TLS is on (${origin}) but ${path} cannot be read (${why(error)}): set DOCKER_CERT_PATH to the folder ` +
            `holding ca.pem, cert.pem and key.pem, or name the file with ${FLAG[kind]}`,
          { cause: error },
        );
      }
      files[kind] = path;
    } else {
      // The docker CLI's default folder ($DOCKER_CONFIG or ~/.docker): used when the file is there.
      const path = join(dockerConfigDir(env), base);
      try {
        data[kind] = readFile(path);
        files[kind] = path;
      } catch (error) {
        if (!absent(error)) throw new InputError(`TLS: cannot read ${path} (${why(error)})`, { cause: error });
      }
    }
  }
  if ((files.cert === null) !== (files.key === null)) {
    const [has, lacks] = files.cert !== null ? ['certificate', 'key'] : ['key', 'certificate'];
    throw new InputError(
      `TLS: a client ${has} (${files.cert ?? files.key}) without its ${lacks}: give --tls-cert and --tls-key together`,
    );
  }
  const verify = Boolean(flags.verify) || !(ctx?.skipTlsVerify ?? false);
  return { info: { verify, ...files, origin }, options: { ca: data.ca, cert: data.cert, key: data.key } };
}

/**
 * Every connection field is set, even to undefined: dockerode fills unset ones from process.env's DOCKER_HOST (and
 * DOCKER_CERT_PATH), which would silently override an explicit --host.
 * The third argument is the command line's connection settings (or, for tests, the file reader).
 */
export function targetFor(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  settings?: ConnectionSettings | ReadFile,
  readFile: ReadFile = defaultRead,
): EngineTarget {
  const read = typeof settings === 'function' ? settings : readFile;
  const conn = typeof settings === 'function' || settings === undefined ? {} : settings;
  const endpoint = resolveHost(explicit, env, conn.context);
  const { host, source } = endpoint;
  const context = endpoint.context ? { context: endpoint.context.name } : {};
  const bad = (reason: string): never => {
    const where =
      source === 'default'
        ? 'engine host'
        : source === '--host' || source === 'DOCKER_HOST'
          ? source
          : `${source}: host`;
    throw new UsageError(`${where} "${host}": ${reason}`);
  };
  const base: Docker.DockerOptions = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: 'http',
    ca: undefined,
    cert: undefined,
    key: undefined,
  };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) bad('expected unix:///absolute/path/to/docker.sock');
    return { host, source, options: { ...base, socketPath }, ...context };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return bad('expected unix:///path, tcp://host:port or ssh://user@host');
  }
  if (url.hostname === '') bad('no host name');
  if (url.protocol === 'tcp:') {
    const tls = tlsFor(endpoint, env, conn.tls ?? {}, read);
    const port = url.port || (tls ? '2376' : '2375');
    const options = { ...base, host: url.hostname, port, protocol: tls ? 'https' : 'http' } as const;
    return {
      host: `tcp://${url.hostname}:${port}`,
      source,
      options: tls ? { ...options, ...tls.options } : options,
      ...(tls ? { tls: tls.info } : {}),
      ...context,
    };
  }
  if (url.protocol === 'ssh:') {
    const user = decodeURIComponent(url.username);
    // ssh wants an IPv6 address without the URL's brackets. No port: ssh's own (~/.ssh/config, else 22).
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return {
      host: `ssh://${user ? `${user}@` : ''}${url.hostname}${url.port ? `:${url.port}` : ''}`,
      source,
      options: { ...base, host: hostname, port: url.port || undefined, protocol: 'ssh', username: user || undefined },
      ...context,
    };
  }
  return bad(`unsupported scheme ${url.protocol}// (use unix://, tcp:// or ssh://)`);
}

/** 127.0.0.0/8, ::1 and "localhost": traffic that never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** Lines to warn with before connecting: plain TCP off this machine, a context that skips verification. */
export function connectionWarnings(target: EngineTarget): string[] {
  const warnings: string[] = [];
  const hostname = typeof target.options.host === 'string' ? target.options.host : '';
  if (target.host.startsWith('tcp://') && !target.tls && !isLoopback(hostname)) {
    warnings.push(
      `${target.host}: traffic to the engine is not encrypted (plain tcp://, no TLS); anyone on the network path can ` +
        'read it and control the engine: use TLS (--tls-verify with --tls-ca/--tls-cert/--tls-key, or DOCKER_TLS_VERIFY) or ssh://',
    );
  }
  if (target.tls && !target.tls.verify) {
    warnings.push(`${target.host}: the engine's certificate is not verified (${target.tls.origin} sets SkipTLSVerify)`);
  }
  return warnings;
}

/** Loads the TLS files as the connection will, so a bad PEM or a key that does not match fails before connecting. */
export function checkTlsMaterial(target: EngineTarget): void {
  if (!target.tls) return;
  const { ca, cert, key } = target.options;
  try {
    createSecureContext({ ca, cert, key });
  } catch (error) {
    const files = [target.tls.ca, target.tls.cert, target.tls.key].filter((f) => f !== null).join(', ');
    const reason = (error as Error).message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/i, '').trim();
    throw new InputError(`TLS: cannot use ${files || 'the TLS files'}: ${reason}`, { cause: error });
  }
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

const CLIENT_REFUSED =
  /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

interface RawError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  json?: unknown;
  cause?: unknown;
}

function causes(error: unknown): RawError[] {
  const out: RawError[] = [];
  let e: unknown = error;
  for (let i = 0; i < 8 && typeof e === 'object' && e !== null; i++) {
    const raw: RawError = e;
    out.push(raw);
    e = raw.cause;
  }
  return out;
}

function text(e: RawError): string {
  const body = Buffer.isBuffer(e.json) ? e.json.toString() : typeof e.json === 'string' ? e.json : '';
  return `${typeof e.message === 'string' ? e.message : ''} ${body}`;
}

/** The engine's own reason, short: OpenSSL's prefix and trailing source positions dropped. */
function short(e: RawError): string {
  const m = typeof e.message === 'string' ? e.message : '';
  const ssl = /:([^:]+):[^:]*\.c:\d+:(?:SSL alert number \d+)?\s*$/.exec(m);
  return (ssl ? ssl[1]! : m).trim();
}

/**
 * One clear line for a connection that failed because of TLS: a certificate the CA does not vouch for, a client
 * certificate the engine wants or refuses, TLS spoken to a plain engine or the reverse. Null for anything else.
 */
export function tlsFailure(target: EngineTarget, error: unknown): string | null {
  if (!target.host.startsWith('tcp://')) return null;
  const tls = target.tls;
  for (const e of causes(error)) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (tls) {
      if (UNTRUSTED.has(code)) {
        return tls.ca
          ? `TLS: the engine's certificate is not signed by the CA in ${tls.ca} (${target.host}: ${short(e)})`
          : `TLS: the engine's certificate is not signed by a CA this system trusts; name the engine's CA with --tls-ca FILE (${target.host}: ${short(e)})`;
      }
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
        return `TLS: the engine's certificate is not for ${String(target.options.host)} (${target.host}: ${short(e)})`;
      }
      if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
        return `TLS: the engine's certificate is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} (${target.host})`;
      }
      if (CLIENT_REFUSED.test(code)) {
        return tls.cert
          ? `TLS: ${target.host} refused the client certificate ${tls.cert} (${short(e)}): is it signed by the CA the engine trusts, for client use?`
          : `TLS: ${target.host} requires a client certificate (${short(e)}): give --tls-cert FILE and --tls-key FILE (or cert.pem and key.pem in DOCKER_CERT_PATH)`;
      }
      if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number/i.test(text(e)))) {
        return `TLS: ${target.host} does not speak TLS (${tls.origin} asked for it): is this the engine's TLS port?`;
      }
    } else if (e.statusCode === 400 && /HTTP request to an HTTPS server/i.test(text(e))) {
      return (
        `TLS: ${target.host} requires TLS but was reached without it: add --tls-verify with --tls-ca, --tls-cert and ` +
        '--tls-key (or set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)'
      );
    }
  }
  return null;
}
