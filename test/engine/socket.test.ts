import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineMessage, statusOf } from '../../src/engine/outcome.js';
import { HttpTransport } from '../../src/engine/request.js';
import { SocketPool, SocketTransport } from '../../src/engine/socket.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * The plain-HTTP transport against a raw server that frames its answers every way an HTTP/1.1 server may, and
 * sends them in pieces cut anywhere: one byte at a time, or all at once.
 */
describe('SocketTransport framing', () => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  const connections = new Set<Socket>();
  const requests: string[] = [];

  const big = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ Id: `sha256:${String(i).padStart(64, '0')}`, RepoTags: [`r/${i}:t`] })));
  const chunked = (body: string, size: number) => {
    let out = '';
    for (let i = 0; i < body.length; i += size) {
      const part = body.slice(i, i + size);
      out += `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`;
    }
    return `${out}0\r\n\r\n`;
  };
  const answers: Record<string, () => string> = {
    '/length': () => 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"Id":"a:1"}\n',
    '/chunked': () => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('[{"Untagged":"a:1"},{"Deleted":"sha256:1"}]', 7)}`,
    '/chunk-ext': () => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;name=x\r\n[1,2]\r\n0\r\nX-Trailer: 1\r\n\r\n',
    '/big': () => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(big, 4096)}`,
    '/interim': () => 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}',
    '/no-content': () => 'HTTP/1.1 204 No Content\r\n\r\n',
    '/conflict': () => 'HTTP/1.1 409 Conflict\r\nContent-Length: 60\r\n\r\n{"message":"image is referenced in multiple repositories"}\r\n',
    '/close': () => 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until":"close"}',
    '/http10': () => 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]',
    '/garbage': () => 'SSH-2.0-OpenSSH_9.2\r\n\r\n',
    '/bad-length': () => 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n',
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imgsweep-socket-'));
    socketPath = join(dir, 'api.sock');
    server = createServer((socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
      let pending = '';
      socket.on('data', (data: Buffer) => {
        pending += data.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          requests.push(head);
          const url = head.split(' ')[1] ?? '';
          const path = url.replace(/^\/v[\d.]+/, '').replace(/\?.*/, '').replace(/\/bytewise$/, '');
          if (path === '/hang-up') {
            socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut":');
            continue;
          }
          if (path === '/silent') continue;
          const answer = Buffer.from((answers[path] ?? answers['/conflict']!)(), 'latin1');
          if (url.includes('/bytewise')) {
            // One byte per write, each its own packet.
            let i = 0;
            const next = () => {
              if (socket.destroyed) return;
              if (i < answer.length) socket.write(answer.subarray(i, ++i), () => setImmediate(next));
              else if (path === '/close' || path === '/http10') socket.end();
            };
            next();
          } else if (path === '/close' || path === '/http10' || path === '/garbage') socket.end(answer);
          else socket.write(answer);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  afterAll(async () => {
    for (const s of connections) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const transport = (pool = new SocketPool(socketPath)) =>
    new SocketTransport(pool, '1.41', new HttpTransport({ socketPath, https: false }, undefined, '1.41'));
  const get = (t: SocketTransport, path: string, timeoutMs = 5_000) => t.call({ method: 'GET', path, timeoutMs });

  it.each([false, true])('reads every framing, whole or cut into single bytes (bytewise: %s)', async (bytewise) => {
    const t = transport();
    const at = (p: string) => (bytewise ? `${p}/bytewise` : p);
    await expect(get(t, at('/length'))).resolves.toEqual({ Id: 'a:1' });
    await expect(get(t, at('/chunked'))).resolves.toEqual([{ Untagged: 'a:1' }, { Deleted: 'sha256:1' }]);
    await expect(get(t, at('/chunk-ext'))).resolves.toEqual([1, 2]);
    await expect(get(t, at('/interim'))).resolves.toEqual({});
    const empty = await get(t, at('/no-content'));
    expect(Buffer.isBuffer(empty) && empty.length).toBe(0);
    await expect(get(t, at('/close'))).resolves.toEqual({ until: 'close' });
    await expect(get(t, at('/http10'))).resolves.toEqual([]);
    const conflict = await get(t, at('/conflict')).catch((e: unknown) => e);
    expect(statusOf(conflict)).toBe(409);
    expect(engineMessage(conflict)).toBe('image is referenced in multiple repositories');
  });

  it('reads a large chunked body (a listing) exactly', async () => {
    await expect(get(transport(), '/big')).resolves.toEqual(JSON.parse(big));
  });

  it('keeps a connection for the next call, except one the server closes or that answered HTTP/1.0', async () => {
    const t = transport();
    const before = requests.length;
    const opened = new Set<Socket>();
    const track = (s: Socket) => opened.add(s);
    server.on('connection', track);
    try {
      for (let i = 0; i < 3; i++) await get(t, '/length');
      await get(t, '/chunked');
      expect(opened.size).toBe(1);
      await get(t, '/close');
      await get(t, '/length');
      await get(t, '/http10');
      await get(t, '/length');
      expect(opened.size).toBe(3);
    } finally {
      server.off('connection', track);
    }
    // Each request: method, versioned path, the Host header; nothing else needed.
    expect(requests.slice(before, before + 1)).toEqual(['GET /v1.41/length HTTP/1.1\r\nHost: localhost']);
  });

  it('a server that hangs up mid-answer, answers garbage or a bad length is a transport failure', async () => {
    const t = transport();
    for (const path of ['/hang-up', '/garbage', '/bad-length']) {
      const error = await get(t, path).catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(Error);
      expect(statusOf(error), path).toBeNull();
    }
    expect(engineMessage(await get(t, '/hang-up').catch((e: unknown) => e))).toMatch(/socket hang up/);
    // The pool goes on with fresh connections.
    await expect(get(t, '/length')).resolves.toEqual({ Id: 'a:1' });
  });

  it('an idle connection the server closed is not reused', async () => {
    const t = transport();
    await get(t, '/length');
    for (const s of connections) s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(get(t, '/length')).resolves.toEqual({ Id: 'a:1' });
  });

  it('gives up after the deadline, and the late answer does not reach the next call', async () => {
    const t = transport();
    const error = await get(t, '/silent', 150).catch((e: unknown) => e);
    expect(engineMessage(error)).toBe('GET /silent timed out after 150 ms');
    expect(statusOf(error)).toBeNull();
    await expect(get(t, '/length')).resolves.toEqual({ Id: 'a:1' });
  });

  it('sends POST with an empty body, refuses a path that would break the request line', async () => {
    const t = transport();
    const before = requests.length;
    await t.call({ method: 'POST', path: '/length', timeoutMs: 5_000 });
    expect(requests[before]).toBe('POST /v1.41/length HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0');
    await expect(get(t, '/images/a b')).rejects.toThrow(/unescaped characters/);
    await expect(get(t, '/images/a\r\nX: 1')).rejects.toThrow(/unescaped characters/);
  });

  it('destroy() closes every connection; calls after it fail', async () => {
    const pool = new SocketPool(socketPath);
    const t = transport(pool);
    await Promise.all([get(t, '/length'), get(t, '/length')]);
    const pending = get(t, '/silent');
    pool.destroy();
    await expect(pending).rejects.toThrow();
    await expect(get(t, '/length')).rejects.toThrow(/closed/);
  });

  it('an idle connection does not keep the process alive', async () => {
    const script = `
      import { SocketPool, SocketTransport } from './src/engine/socket.ts';
      const t = new SocketTransport(new SocketPool(${JSON.stringify(socketPath)}), '1.41', null);
      console.log(JSON.stringify(await t.call({ method: 'GET', path: '/length', timeoutMs: 5000 })));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-deprecation', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({ Id: 'a:1' });
  }, 30_000);
});
