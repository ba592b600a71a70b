/**
 * One bounded HTTP call to the engine, so we control paths, encoding, status codes and time. tcp:// (with or
 * without TLS) and event streams go through node:http directly, a local socket's calls through socket.ts, and
 * ssh:// through docker-modem's ssh transport (client.ts). All answer the same way: the parsed JSON body, or an error carrying `statusCode` and `json`
 * for an HTTP answer outside `ok`, and neither for a transport failure (outcome.ts reads them).
 */
import type * as Http from 'node:http';
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import type * as Tls from 'node:tls';
import { createRequire } from 'node:module';
import { stringify } from 'node:querystring';

const require = createRequire(import.meta.url);
/** node:https and node:tls (~6 ms to load) only for an engine behind TLS; node:http (~2 ms) only when used. */
export const http = (): typeof Http => require('node:http') as typeof Http;
export const https = (): typeof Https => require('node:https') as typeof Https;
export const tls = (): typeof Tls => require('node:tls') as typeof Tls;

export type Query = Record<string, string | number | boolean | object>;

export interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path without the version prefix and without a query; the caller encodes path parameters. */
  path: string;
  query?: Query;
  /** Status codes that count as success (default 200, 201, 204). */
  ok?: number[];
  timeoutMs: number;
}

export interface Transport {
  /** Resolves with the parsed JSON body (a Buffer when it is not one JSON value). */
  call(c: Call): Promise<unknown>;
  /**
   * A GET whose body streams until `signal` aborts (events); resolves once the engine answered 200, which it must
   * do within `timeoutMs` (the stream itself may then stay quiet for as long as nothing happens).
   */
  stream(path: string, query: Query, signal: AbortSignal, timeoutMs: number): Promise<NodeJS.ReadableStream>;
}

export const DEFAULT_OK = [200, 201, 204];

/** The query as the docker CLI and the modem send it: objects (filters) as JSON, arrays as repeated keys. */
export function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const flat: Record<string, string | number | boolean | readonly string[]> = {};
  for (const [key, value] of Object.entries(query)) {
    flat[key] = value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : (value as string | number | boolean | readonly string[]);
  }
  const text = stringify(flat);
  return text === '' ? '' : `?${text}`;
}

/** The body as the modem hands it back: one JSON value parsed, anything else (or nothing) as a Buffer. */
export function parseBody(buffer: Buffer): unknown {
  if (buffer.length === 0) return buffer;
  try {
    return (JSON.parse(buffer.toString('utf8')) as unknown) ?? buffer;
  } catch {
    return buffer;
  }
}

/** An answer outside the expected codes: the engine's message first, then status and body for outcome.ts. */
export function httpError(statusCode: number, json: unknown): Error & { statusCode: number; json: unknown } {
  const text = json !== null && typeof json === 'object' && !Buffer.isBuffer(json) && typeof (json as { message?: unknown }).message === 'string'
    ? (json as { message: string }).message
    : Buffer.isBuffer(json) ? json.toString('utf8').trim() : String(json);
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${text}`), { statusCode, json });
}

/** A body as text: newline-delimited JSON (events) comes back as a Buffer. */
export function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'string') return body;
  if (body === null || body === undefined) return '';
  return JSON.stringify(body);
}

export interface HttpEndpoint {
  /** unix:// */
  socketPath?: string;
  /** tcp:// */
  host?: string;
  port?: string | number;
  https: boolean;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** node:http over a unix socket or TCP (TLS with https), one keep-alive pool, the API version pinned in paths. */
export class HttpTransport implements Transport {
  constructor(
    private readonly endpoint: HttpEndpoint,
    /** The pool, or a function that makes it on first use. */
    private readonly agent: Agent | (() => Agent) | undefined,
    private readonly version: string | undefined,
  ) {}

  private send(method: string, path: string, query: Query | undefined, signal?: AbortSignal): ClientRequest {
    const e = this.endpoint;
    const options: Https.RequestOptions = {
      method,
      path: `${this.version ? `/v${this.version}` : ''}${path}${queryString(query)}`,
      agent: typeof this.agent === 'function' ? this.agent() : this.agent,
      signal,
    };
    if (e.socketPath !== undefined) {
      options.socketPath = e.socketPath;
      // What Node would send, given here so that it does not work it out (an IPv6 test) on every request.
      options.headers = { Host: 'localhost' };
    } else {
      options.host = e.host;
      options.port = e.port;
    }
    if (e.https) Object.assign(options, { ca: e.ca, cert: e.cert, key: e.key });
    const req = (e.https ? https() : http()).request(options);
    req.end();
    return req;
  }

  call(c: Call): Promise<unknown> {
    const ok = c.ok ?? DEFAULT_OK;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = this.send(c.method, c.path, c.query);
      // One timer per call (cheaper than an AbortSignal per call): the call's whole time, answer included.
      const timer = setTimeout(() => {
        settle(() => reject(new Error(`${c.method} ${c.path} timed out after ${c.timeoutMs} ms`)));
        req.destroy();
      }, c.timeoutMs);
      req.on('error', (error) => settle(() => reject(error)));
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => settle(() => reject(error)));
        res.on('end', () =>
          settle(() => {
            const body = parseBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
            const status = res.statusCode ?? 0;
            if (ok.includes(status)) resolve(body);
            else reject(httpError(status, body));
          }),
        );
      });
    });
  }

  stream(path: string, query: Query, signal: AbortSignal, timeoutMs: number): Promise<NodeJS.ReadableStream> {
    return new Promise((resolve, reject) => {
      const req = this.send('GET', path, query, signal);
      const timer = setTimeout(() => {
        reject(new Error(`GET ${path} timed out after ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        if (res.statusCode === 200) return resolve(res);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => reject(httpError(res.statusCode ?? 0, parseBody(Buffer.concat(chunks)))));
      });
    });
  }
}
