import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineMessage, outcomeFromError, statusOf } from '../../src/engine/outcome.js';
import { HttpTransport, bodyText, queryString, type Transport } from '../../src/engine/request.js';
import { SocketPool, SocketTransport } from '../../src/engine/socket.js';

type Make = (socketPath: string, version: string | undefined) => Transport;
const node: Make = (socketPath, version) => new HttpTransport({ socketPath, https: false }, new Agent({ keepAlive: true }), version);
// Plain HTTP over the socket for calls, node:http for streams: what a unix:// engine gets.
const plain: Make = (socketPath, version) => new SocketTransport(new SocketPool(socketPath), version, node(socketPath, version) as HttpTransport);

/** Both transports against a small server on a unix socket that answers by path. */
describe.each([
  ['HttpTransport', node],
  ['SocketTransport', plain],
])('%s', (_name, make: Make) => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  const seen: string[] = [];
  const sockets = new Set<unknown>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imgsweep-request-'));
    socketPath = join(dir, 'api.sock');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.method} ${req.url}`);
      sockets.add(req.socket);
      const path = (req.url ?? '').replace(/\?.*/, '');
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path.endsWith('/ok')) return json(200, [{ Untagged: 'a:1' }]);
      if (path.endsWith('/empty')) return res.writeHead(204).end();
      if (path.endsWith('/conflict')) return json(409, { message: 'image is referenced in multiple repositories' });
      if (path.endsWith('/plain-error')) return res.writeHead(500).end('boom\n');
      if (path.endsWith('/lines')) return res.writeHead(200).end('{"a":1}\n{"a":2}\n');
      if (path.endsWith('/slow')) return setTimeout(() => json(200, {}), 2_000);
      if (path.endsWith('/silent')) return;
      if (path.endsWith('/stream')) {
        res.writeHead(200);
        res.write('{"n":1}\n');
        return;
      }
      json(404, { message: 'no such thing' });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const transport = (version?: string) => make(socketPath, version);

  it('pins the API version in the path and encodes the query as the docker CLI does', async () => {
    seen.length = 0;
    await transport('1.41').call({ method: 'DELETE', path: '/images/a%3A1/ok', query: { noprune: 1, filters: { type: ['container'] }, all: true }, timeoutMs: 5_000 });
    expect(seen).toEqual(['DELETE /v1.41/images/a%3A1/ok?noprune=1&filters=%7B%22type%22%3A%5B%22container%22%5D%7D&all=true']);
    await transport().call({ method: 'GET', path: '/version/ok', timeoutMs: 5_000 });
    expect(seen[1]).toBe('GET /version/ok');
  });

  it('answers the parsed JSON body, an empty Buffer for no body, a Buffer for lines of JSON', async () => {
    const t = transport('1.41');
    await expect(t.call({ method: 'GET', path: '/ok', timeoutMs: 5_000 })).resolves.toEqual([{ Untagged: 'a:1' }]);
    const empty = await t.call({ method: 'DELETE', path: '/empty', timeoutMs: 5_000 });
    expect(Buffer.isBuffer(empty) && empty.length).toBe(0);
    expect(bodyText(await t.call({ method: 'GET', path: '/lines', timeoutMs: 5_000 }))).toBe('{"a":1}\n{"a":2}\n');
  });

  it('rejects an answer outside the expected codes with its status and the engine\'s message', async () => {
    const t = transport('1.41');
    const conflict = await t.call({ method: 'DELETE', path: '/conflict', timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(statusOf(conflict)).toBe(409);
    expect(engineMessage(conflict)).toBe('image is referenced in multiple repositories');
    expect(outcomeFromError(conflict, 'docker')).toEqual({ status: 'conflict', message: 'image is referenced in multiple repositories' });
    const plain = await t.call({ method: 'GET', path: '/plain-error', timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(statusOf(plain)).toBe(500);
    expect(engineMessage(plain)).toBe('boom');
    // A code the caller expects is an answer, not an error.
    await expect(t.call({ method: 'GET', path: '/missing', ok: [200, 404], timeoutMs: 5_000 })).resolves.toEqual({ message: 'no such thing' });
  });

  it('gives up after the call\'s deadline, saying so, as a transport failure', async () => {
    const t0 = Date.now();
    const error = await transport('1.41').call({ method: 'GET', path: '/slow', timeoutMs: 200 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(engineMessage(error)).toBe('GET /slow timed out after 200 ms');
    expect(statusOf(error)).toBeNull();
    expect(outcomeFromError(error, 'docker')).toMatchObject({ status: 'failed', transport: true });
  });

  it('a missing socket is a transport failure naming it', async () => {
    const error = await make(join(dir, 'none.sock'), undefined)
      .call({ method: 'GET', path: '/version', timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(statusOf(error)).toBeNull();
    expect(engineMessage(error)).toMatch(/ENOENT.*none\.sock/);
  });

  it('reuses its connections', async () => {
    sockets.clear();
    const t = transport('1.41');
    for (let i = 0; i < 5; i++) await t.call({ method: 'GET', path: '/ok', timeoutMs: 5_000 });
    expect(sockets.size).toBe(1);
  });

  it('streams a 200 answer until aborted, and rejects any other with its status', async () => {
    const t = transport('1.41');
    const abort = new AbortController();
    const stream = await t.stream('/stream', { since: '1.000' }, abort.signal, 5_000);
    const first = await new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    expect(first).toBe('{"n":1}\n');
    abort.abort();
    const missing = await t.stream('/missing', {}, new AbortController().signal, 5_000).catch((e: unknown) => e);
    expect(statusOf(missing)).toBe(404);
    expect(engineMessage(missing)).toBe('no such thing');
    // An engine that never answers: given up after the deadline; a quiet stream once answered is not.
    const silent = await t.stream('/silent', {}, new AbortController().signal, 200).catch((e: unknown) => e);
    expect(engineMessage(silent)).toBe('GET /silent timed out after 200 ms');
    const quiet = await t.stream('/stream', {}, new AbortController().signal, 100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((quiet as NodeJS.ReadableStream & { destroyed: boolean }).destroyed).toBe(false);
    (quiet as NodeJS.ReadableStream & { destroy: () => void }).destroy();
  });

  it('builds no query string for an empty query', () => {
    expect(queryString(undefined)).toBe('');
    expect(queryString({})).toBe('');
    expect(queryString({ since: '1.5', tags: ['a', 'b'] })).toBe('?since=1.5&tags=a&tags=b');
  });
});
