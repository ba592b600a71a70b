/**
 * Calls to a local engine (unix://) as plain HTTP/1.1 over a small pool of kept-alive sockets. node:http builds a
 * request object, a response stream and agent bookkeeping for every call, most of it cold code in a short-lived
 * process: for the ~600 calls of a 300-image apply that was ~8% of its time (bench/RESULTS.md). Engines answer
 * with Go's net/http: a status line, headers, then a body framed by Content-Length, chunks, or the end of the
 * connection. Event streams and every other scheme stay on node:http (request.ts).
 */
import { connect, type Socket } from 'node:net';
import { DEFAULT_OK, httpError, parseBody, queryString, type Call, type HttpTransport, type Query, type Transport } from './request.js';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Far above any engine's headers; a longer head is not an engine talking. */
const MAX_HEAD_BYTES = 64 * 1024;

interface Pending {
  resolve(body: unknown): void;
  reject(error: Error): void;
  ok: number[];
  method: string;
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' };

/** One kept-alive connection, answering one call at a time. */
class Connection {
  readonly socket: Socket;
  private pending: Pending | null = null;
  /** Bytes received and not yet consumed. */
  private buf: Buffer = Buffer.alloc(0);
  private status = 0;
  private keepAlive = true;
  private framing: Framing | null = null;
  private chunkLeft = -1;
  private body: Buffer[] = [];
  private closed = false;

  constructor(
    socketPath: string,
    private readonly onIdle: (c: Connection) => void,
    private readonly onGone: (c: Connection) => void,
  ) {
    this.socket = connect(socketPath);
    this.socket.on('data', (data: Buffer) => this.receive(data));
    this.socket.on('end', () => {
      // The end of the connection frames a body that has no length.
      if (this.pending && this.framing?.kind === 'close') this.finish();
      this.fail(new Error('socket hang up'));
    });
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('socket hang up')));
  }

  send(head: string, pending: Pending): void {
    this.pending = pending;
    this.status = 0;
    this.keepAlive = true;
    this.framing = null;
    this.chunkLeft = -1;
    this.body = [];
    this.socket.write(head);
  }

  /** Ends the call in flight, if any, with `error` (a deadline, a hang-up), and the connection with it. */
  fail(error: Error): void {
    const p = this.pending;
    this.pending = null;
    this.destroy();
    p?.reject(error);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onGone(this);
  }

  private receive(data: Buffer): void {
    if (!this.pending) {
      // Nothing was asked: an engine that talks out of turn is not to be trusted with the next call.
      this.destroy();
      return;
    }
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    try {
      this.parse();
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private parse(): void {
    for (;;) {
      if (this.framing === null) {
        const end = this.buf.indexOf(HEAD_END);
        if (end === -1) {
          if (this.buf.length > MAX_HEAD_BYTES) throw new Error('the engine sent an HTTP head over 64 KiB');
          return;
        }
        const head = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(end + HEAD_END.length);
        if (!this.readHead(head)) continue; // 1xx: the answer follows
      }
      const f = this.framing!;
      if (f.kind === 'none') return this.finish();
      if (f.kind === 'close') {
        this.take(this.buf.length);
        return;
      }
      if (f.kind === 'length') {
        const n = Math.min(f.left, this.buf.length);
        this.take(n);
        f.left -= n;
        if (f.left === 0) return this.finish();
        return;
      }
      if (!this.chunks()) return;
      return this.finish();
    }
  }

  /** Reads the status line and headers; false for an interim (1xx) answer. */
  private readHead(head: string): boolean {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error(`the engine did not answer in HTTP/1.x: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    this.status = Number(m[2]);
    if (this.status >= 100 && this.status < 200) return false;
    let length: number | null = null;
    let chunked = false;
    let connection = m[1] === '1' ? 'keep-alive' : 'close';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) throw new Error(`the engine sent a bad Content-Length: ${JSON.stringify(value)}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') connection = value.toLowerCase();
    }
    this.keepAlive = !/\bclose\b/.test(connection);
    if (this.status === 204 || this.status === 304 || this.pending!.method === 'HEAD') this.framing = { kind: 'none' };
    else if (chunked) this.framing = { kind: 'chunked' };
    else if (length !== null) this.framing = length === 0 ? { kind: 'none' } : { kind: 'length', left: length };
    else {
      this.framing = { kind: 'close' };
      this.keepAlive = false;
    }
    return true;
  }

  /** Consumes chunked framing from the buffer; true once the last chunk and the trailer are in. */
  private chunks(): boolean {
    for (;;) {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, this.buf.length);
        this.take(n);
        this.chunkLeft -= n;
        if (this.chunkLeft > 0) return false;
        this.chunkLeft = -2; // the CRLF after the data
      }
      if (this.chunkLeft === -2) {
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new Error('the engine sent a malformed chunk');
        this.buf = this.buf.subarray(2);
        this.chunkLeft = -1;
      }
      const eol = this.buf.indexOf(CRLF);
      if (eol === -1) {
        if (this.buf.length > MAX_HEAD_BYTES) throw new Error('the engine sent a malformed chunk');
        return false;
      }
      const line = this.buf.toString('latin1', 0, eol);
      this.buf = this.buf.subarray(eol + 2);
      if (this.chunkLeft === 0) {
        // The trailer, up to an empty line.
        if (line === '') return true;
        continue;
      }
      const size = /^([0-9a-fA-F]+)\s*(;.*)?$/.exec(line);
      if (!size) throw new Error(`the engine sent a malformed chunk size: ${JSON.stringify(line.slice(0, 40))}`);
      this.chunkLeft = parseInt(size[1]!, 16);
    }
  }

  private take(n: number): void {
    if (n === 0) return;
    this.body.push(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
  }

  private finish(): void {
    const p = this.pending!;
    this.pending = null;
    const status = this.status;
    const body = parseBody(this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body));
    this.body = [];
    this.framing = null;
    // Left-over bytes would belong to no call: the connection is not reused then.
    if (this.keepAlive && this.buf.length === 0 && !this.closed) this.onIdle(this);
    else this.destroy();
    if (p.ok.includes(status)) p.resolve(body);
    else p.reject(httpError(status, body));
  }
}

/** The kept-alive connections to one local engine; destroy() closes them all. */
export class SocketPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  destroyed = false;

  constructor(readonly socketPath: string) {}

  /** An idle connection, or a new one (callers bound how many calls they make at once). */
  acquire(): Connection {
    const c = this.idle.pop();
    if (c) {
      c.socket.ref();
      return c;
    }
    const fresh = new Connection(
      this.socketPath,
      (x) => {
        // An idle connection must not keep the process alive.
        x.socket.unref();
        this.idle.push(x);
      },
      (x) => {
        this.all.delete(x);
        const i = this.idle.indexOf(x);
        if (i !== -1) this.idle.splice(i, 1);
      },
    );
    this.all.add(fresh);
    return fresh;
  }

  destroy(): void {
    this.destroyed = true;
    for (const c of [...this.all]) c.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}

/** Calls over a SocketPool; streams go to node:http (`streams`). */
export class SocketTransport implements Transport {
  constructor(
    private readonly pool: SocketPool,
    private readonly version: string | undefined,
    private readonly streams: HttpTransport,
  ) {}

  call(c: Call): Promise<unknown> {
    const target = `${this.version ? `/v${this.version}` : ''}${c.path}${queryString(c.query)}`;
    // What node:http refuses too: a path that would break the request line.
    if (/[^\x21-\x7e]/.test(target)) return Promise.reject(new TypeError(`request path contains unescaped characters: ${JSON.stringify(target)}`));
    if (this.pool.destroyed) return Promise.reject(new Error('the engine connection is closed'));
    return new Promise((resolve, reject) => {
      const conn = this.pool.acquire();
      // One timer per call: the call's whole time, answer included.
      const timer = setTimeout(() => conn.fail(new Error(`${c.method} ${c.path} timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
      const length = c.method === 'POST' ? 'Content-Length: 0\r\n' : '';
      conn.send(`${c.method} ${target} HTTP/1.1\r\nHost: localhost\r\n${length}\r\n`, {
        ok: c.ok ?? DEFAULT_OK,
        method: c.method,
        resolve: (body) => {
          clearTimeout(timer);
          resolve(body);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  stream(path: string, query: Query, signal: AbortSignal, timeoutMs: number): Promise<NodeJS.ReadableStream> {
    return this.streams.stream(path, query, signal, timeoutMs);
  }
}
