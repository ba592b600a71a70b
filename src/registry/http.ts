/** HTTP(S) to one registry: its scheme, its trusted CAs, one request under a deadline, failures as reasons. */
import { readdir, readFile } from 'node:fs/promises';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

export interface Transport {
  /** https://host[:port], or http:// for an insecure registry. */
  base: string;
  http: HttpAgent;
  /** Node's CAs plus the registry's own from certs.d; also used for a token realm on https. */
  https: HttpsAgent;
  /** Where a private CA for this registry goes: <certsDir>/<host>/ca.crt. */
  caPath: string;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request that got no HTTP answer; `reason` says why in a few words (never a credential: URLs carry none). */
export class RequestFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RequestFailed';
  }
}

const MAX_BODY = 64 * 1024;

/** Whether the daemon's insecure-registries (host[:port] entries, or CIDRs for IP hosts) name this host. */
export function isInsecure(host: string, insecureRegistries: readonly string[]): boolean {
  const hostname = host.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1');
  const family = isIP(hostname);
  for (const entry of insecureRegistries) {
    if (entry === host) return true;
    const cidr = /^(.+)\/(\d+)$/.exec(entry);
    if (cidr && family !== 0 && isIP(cidr[1]!) === family) {
      const list = new BlockList();
      const type = family === 4 ? 'ipv4' : 'ipv6';
      list.addSubnet(cidr[1]!, Number(cidr[2]), type);
      if (list.check(hostname, type)) return true;
    }
  }
  return false;
}

/** The *.crt files of `<certsDir>/<host>/` (Docker reads every one as a CA for that registry); none is fine. */
async function registryCas(certsDir: string, host: string): Promise<string[]> {
  const dir = join(certsDir, host);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const files = names.filter((name) => name.endsWith('.crt')).sort();
  return Promise.all(files.map((name) => readFile(join(dir, name), 'utf8')));
}

/**
 * How to reach a registry. An insecure registry is asked over plain HTTP only: the daemon tries https first and
 * falls back to http, but an insecure registry is one the user chose to reach without TLS, and trying https
 * first would double the requests (and the wait on a registry that hangs) for no better answer.
 */
export async function registryTransport(
  host: string,
  o: { certsDir: string; insecureRegistries: readonly string[]; concurrency: number },
): Promise<Transport> {
  const insecure = isInsecure(host, o.insecureRegistries);
  const extra = insecure ? [] : await registryCas(o.certsDir, host).catch(() => []);
  return {
    base: `${insecure ? 'http' : 'https'}://${host}`,
    http: new HttpAgent({ keepAlive: true, maxSockets: o.concurrency }),
    https: new HttpsAgent({
      keepAlive: true,
      maxSockets: o.concurrency,
      ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}),
    }),
    caPath: join(o.certsDir, host, 'ca.crt'),
  };
}

export function closeTransport(t: Transport): void {
  t.http.destroy();
  t.https.destroy();
}

const CERTIFICATE = /CERT|ISSUER|SIGNATURE|ALTNAME|HOSTNAME/;

/** A transport failure in a few words: the system's code and message, with advice for an untrusted certificate. */
export function failureReason(error: unknown, caPath: string): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (typeof code === 'string' && CERTIFICATE.test(code)) {
    return `certificate not trusted (${code}: ${message}); a private CA goes in ${caPath}`;
  }
  if (typeof code === 'string' && !message.includes(code)) return `${code}: ${message}`;
  return message || String(error);
}

/** One request with a deadline on the whole exchange; resolves with any HTTP answer, rejects with RequestFailed. */
export function send(
  url: string,
  o: { transport: Transport; method: string; headers: OutgoingHttpHeaders; timeoutMs: number; body?: string },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const request = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = request(
      target,
      { method: o.method, headers: o.headers, agent: secure ? o.transport.https : o.transport.http },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY) chunks.push(chunk);
        });
        res.on('end', () =>
          finish(() =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
          ),
        );
        res.on('error', (error) => finish(() => reject(new RequestFailed(failureReason(error, o.transport.caPath)))));
      },
    );
    const timer = setTimeout(() => {
      finish(() => reject(new RequestFailed(`no answer in ${o.timeoutMs / 1000} s`)));
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (error) => finish(() => reject(new RequestFailed(failureReason(error, o.transport.caPath)))));
    req.end(o.body);
  });
}
