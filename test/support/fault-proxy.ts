/**
 * A proxy of the test harness's own, on a unix socket in front of a real engine's socket, that injects faults
 * per endpoint and per call number: a connection reset before or after forwarding, an HTTP error answered in
 * the engine's place, an answer held past the client's timeout, a body cut short or made malformed.
 *
 * Endpoints are named by method and path template, the API version prefix dropped: "DELETE /images/{id}" (a
 * delete by ID), "DELETE /images/{ref}" (an untag by name), "DELETE /containers/{id}", "GET /images/json",
 * "GET /images/{ref}/json", "GET /containers/json", "GET /system/df", ...
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export type FaultKind =
  /** The connection is dropped before the call reaches the engine: nothing happened. */
  | 'reset-before'
  /** The call reaches the engine, which does it; the connection is dropped before its answer. */
  | 'reset-after'
  /** Answered in the engine's place, which never sees the call. */
  | 'http-500'
  | 'http-409'
  | 'http-404'
  /** The engine does it; its answer is held past the client's --timeout, then the connection is dropped. */
  | 'delay'
  /** The engine does it; its answer arrives whole, a second and a half late (a slow engine, not a failing one). */
  | 'slow'
  /** The engine does it; half its body arrives, then the connection is dropped. */
  | 'truncated'
  /** The engine does it; its body is replaced with text that is not JSON (the length is right). */
  | 'malformed'
  /** /system/df as a busy daemon answers it. */
  | 'busy-df';

export interface FaultRule {
  endpoint: string;
  /** Which matching calls get the fault, 1-based; 'every' for all of them. */
  calls: number[] | 'every';
  kind: FaultKind;
}

export interface ProxiedCall {
  endpoint: string;
  path: string;
  /** The fault it met, if any. */
  fault: FaultKind | null;
}

export interface FaultProxy {
  /** unix://… of the proxy's socket. */
  host: string;
  calls: ProxiedCall[];
  /** The faults to inject from now on (counting calls afresh). */
  arm(rules: FaultRule[]): void;
  close(): Promise<void>;
}

const ERRORS: Partial<Record<FaultKind, [number, string]>> = {
  'http-500': [500, 'injected: internal server error'],
  'http-409': [409, 'injected: conflict: unable to delete (must be forced)'],
  'http-404': [404, 'injected: No such image'],
  'busy-df': [500, 'a disk usage operation is already running'],
};

/** How late a 'slow' answer arrives. */
export const SLOW_MS = 1_500;

/** "DELETE /v1.41/images/sha256:abc" -> "DELETE /images/{id}". */
export function endpointOf(method: string, url: string): string {
  const path = decodeURIComponent(url.split('?')[0]!.replace(/^\/v[\d.]+(?=\/)/, ''));
  let template = path
    .replace(/^\/images\/(.+)\/(json|history)$/, '/images/{ref}/$2')
    .replace(/^\/containers\/([0-9a-f]{12,64})(\/json)?$/, '/containers/{id}$2');
  if (method === 'DELETE' && template.startsWith('/images/') && template !== '/images/{ref}')
    template = /^\/images\/(sha256:)?[0-9a-f]{64}$/.test(path) ? '/images/{id}' : '/images/{ref}';
  return `${method} ${template}`;
}

/** A proxy on `dir`/fault.sock to the engine at `socketPath`. */
export async function startFaultProxy(socketPath: string, dir: string, timeoutMs = 2_000): Promise<FaultProxy> {
  const path = join(dir, 'fault.sock');
  let rules: FaultRule[] = [];
  const counts = new Map<string, number>();
  const calls: ProxiedCall[] = [];

  const faultFor = (endpoint: string): FaultKind | null => {
    const n = (counts.get(endpoint) ?? 0) + 1;
    counts.set(endpoint, n);
    const rule = rules.find((r) => r.endpoint === endpoint && (r.calls === 'every' || r.calls.includes(n)));
    return rule?.kind ?? null;
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const endpoint = endpointOf(req.method ?? 'GET', req.url ?? '/');
    const fault = faultFor(endpoint);
    calls.push({ endpoint, path: req.url ?? '', fault });
    if (fault === 'reset-before') {
      req.socket.destroy();
      return;
    }
    const error = fault === null ? undefined : ERRORS[fault];
    if (error) {
      res.writeHead(error[0], { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: error[1] }));
      return;
    }
    const upstream = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      if (fault === null) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      // The engine has done the call by the time its answer is read whole.
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...answer.headers };
        delete headers['transfer-encoding'];
        if (fault === 'reset-after') res.socket?.destroy();
        else if (fault === 'slow')
          setTimeout(() => {
            res.writeHead(answer.statusCode ?? 200, { ...headers, 'content-length': String(body.length) });
            res.end(body);
          }, SLOW_MS);
        else if (fault === 'delay') setTimeout(() => res.socket?.destroy(), timeoutMs * 2);
        else if (fault === 'truncated') {
          res.writeHead(answer.statusCode ?? 200, { ...headers, 'content-length': String(body.length) });
          res.write(body.subarray(0, Math.floor(body.length / 2)));
          setTimeout(() => res.socket?.destroy(), 20);
        } else if (fault === 'malformed') {
          const text = Buffer.from('{"Id": "sha256:' + '<'.repeat(Math.max(0, body.length - 16)));
          res.writeHead(answer.statusCode ?? 200, { ...headers, 'content-length': String(text.length) });
          res.end(text);
        }
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    host: `unix://${path}`,
    calls,
    arm(next) {
      rules = next;
      counts.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
