/**
 * ssh:// engines, reached as the docker CLI reaches them: the system's OpenSSH client runs
 * `docker system dial-stdio` on the server, and HTTP goes over that child's stdin and stdout. OpenSSH brings
 * ~/.ssh/config, identity files, agents, ProxyJump and its own known_hosts checking.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Agent } from 'node:http';
import { Duplex, type Readable, type Writable } from 'node:stream';

export interface SshEndpoint {
  host: string;
  port?: string;
  user?: string;
}

/** The ssh command line: no prompts (a run may be unattended), so an unknown host key or a password is refused. */
export function sshArgs(e: SshEndpoint): string[] {
  return [
    '-o',
    'BatchMode=yes',
    ...(e.port ? ['-p', e.port] : []),
    '--',
    e.user ? `${e.user}@${e.host}` : e.host,
    'docker',
    'system',
    'dial-stdio',
  ];
}

/** What ssh said on stderr, last lines first trimmed: the reason a connection failed ("Host key verification failed."). */
function lastWords(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').trim();
}

/** A child's stdio as the socket node:http expects; its end, error and what ssh said are the socket's. */
class StdioSocket extends Duplex {
  private stderr = '';
  private timer: NodeJS.Timeout | undefined;
  private idleMs = 0;

  constructor(private readonly child: ChildProcessByStdio<Writable, Readable, Readable>) {
    super();
    child.stdout.on('data', (chunk: Buffer) => {
      this.touch();
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-2_000)));
    child.stdin.on('error', () => undefined); // the exit says why
    child.on('error', (error) =>
      this.destroy(
        new Error(`ssh exited with 127: cannot run ssh (${error.message}): install OpenSSH's client`, { cause: error }),
      ),
    );
    // Once ssh is gone and all it said is read: a failure's reason is on stderr, so it ends the socket with it.
    child.on('close', (code, signal) => {
      if (this.destroyed) return;
      if (code === 0) return void this.push(null);
      const said = lastWords(this.stderr);
      this.destroy(new Error(`ssh exited with ${code ?? signal}${said ? `: ${said}` : ''}`));
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.touch();
    this.child.stdin.write(chunk, done);
  }

  override _final(done: () => void): void {
    this.child.stdin.end(done);
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    clearTimeout(this.timer);
    if (this.child.exitCode === null) this.child.kill();
    done(error);
  }

  // What node:http asks of a socket besides reading and writing.
  setTimeout(ms: number, onTimeout?: () => void): this {
    // As net.Socket: 0 turns the timer off and takes the listener back.
    if (onTimeout) {
      if (ms === 0) this.removeListener('timeout', onTimeout);
      else this.once('timeout', onTimeout);
    }
    this.idleMs = ms;
    this.touch();
    return this;
  }

  private touch(): void {
    clearTimeout(this.timer);
    if (this.idleMs > 0) this.timer = setTimeout(() => this.emit('timeout'), this.idleMs).unref();
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** An idle kept-alive connection must not keep the process alive. */
  ref(): this {
    for (const handle of this.handles()) handle.ref?.();
    return this;
  }

  unref(): this {
    for (const handle of this.handles()) handle.unref?.();
    return this;
  }

  /** The child and its pipes (net.Sockets at run time), which hold the event loop open. */
  private handles(): { ref?: () => void; unref?: () => void }[] {
    const c = this.child;
    return [c, c.stdin, c.stdout, c.stderr] as { ref?: () => void; unref?: () => void }[];
  }
}

/** An http.Agent whose connections are `ssh … docker system dial-stdio` children, kept alive between calls. */
export class DialStdioAgent extends Agent {
  constructor(
    private readonly endpoint: SshEndpoint,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    super({ keepAlive: true, maxSockets: 4 });
  }

  override createConnection(): Duplex {
    const child = spawn('ssh', sshArgs(this.endpoint), { stdio: ['pipe', 'pipe', 'pipe'], env: this.env });
    return new StdioSocket(child);
  }
}
