/**
 * A throwaway OpenSSH server on 127.0.0.1 whose only use is `docker system dial-stdio` to a test daemon, and a
 * client key file it accepts: what imgsweep's ssh:// transport (the system's ssh client) needs to be tested for
 * real. Runs as the current user (root in CI) from a temp dir; nothing in /etc/ssh or ~/.ssh is read or changed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { exited, freePort, runCommand, stopChild, tailFile, waitFor, which } from './process.js';

export const SSHD = '/usr/sbin/sshd';

export const SSHD_NOT_FOUND =
  `${SSHD} not found: install Debian's openssh-server (apt-get install -y openssh-server) ` +
  'or set IMGSWEEP_SKIP_ENGINE_TESTS=1 to skip the real-engine tests';

export interface TestSshd {
  /** ssh://USER@127.0.0.1:PORT */
  host: string;
  user: string;
  port: number;
  /** The private key file of the one key the server accepts. */
  clientKey: string;
  /** This server's line for a known_hosts file: "[127.0.0.1]:PORT ssh-ed25519 AAAA…". */
  knownHostsLine: string;
  dir: string;
  stop(): Promise<void>;
}

const READY_MS = 15_000;
const STOP_GRACE_MS = 5_000;

/** ssh-keygen: an ed25519 key without passphrase at `path`; returns the public key line. */
export async function generateKey(path: string, comment = 'imgsweep-test'): Promise<string> {
  const r = await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], {
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`ssh-keygen -f ${path} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** Kills a child on test-process exit, should a stop() never run (a crashed beforeAll, a killed runner). */
function killOnExit(child: ChildProcess): () => void {
  const kill = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  return () => process.off('exit', kill);
}

/** True once something on the port answers with an SSH banner (so it is our sshd, not whoever else got the port). */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('end', () => done(false));
  });
}

/**
 * Starts sshd with a fresh host key and a fresh client key whose authorized_keys line forces
 * `docker -H unix://SOCKET system dial-stdio`: whatever command the client asks for (imgsweep asks for
 * `docker system dial-stdio`), the session becomes a pipe to the test daemon, and nothing else is allowed.
 */
export async function startSshd(opts: { dockerSocket: string }): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(SSHD_NOT_FOUND);
  const docker = which('docker');
  if (docker === null)
    throw new Error("docker CLI not found: install Debian's docker.io (apt-get install -y docker.io)");
  // sshd refuses to start without its privilege separation directory, which only the openssh service creates.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), 'isw-ssh-'));
  const user = userInfo().username;
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const hostPublic = await generateKey(hostKey, 'imgsweep-test-host');
  const publicKey = await generateKey(clientKey);
  // An absolute path: sshd runs the forced command with its own PATH, which may lack /usr/local/bin.
  const forced = `${docker} -H unix://${opts.dockerSocket} system dial-stdio`;
  const options = [`command="${forced}"`, 'no-pty', 'no-port-forwarding', 'no-agent-forwarding', 'no-X11-forwarding'];
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, `${options.join(',')} ${publicKey}\n`, { mode: 0o600 });

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AllowUsers ${user}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The temp dir and its files are not laid out as ~/.ssh would be; the key file modes above are still tight.
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'PermitUserEnvironment no',
      // imgsweep opens one SSH connection per API request in flight, several at once during apply.
      'MaxStartups 100',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await chmod(dir, 0o700);

  const logPath = join(dir, 'sshd.log');
  const log = openSync(logPath, 'a');
  // -D: stays in the foreground (its life is this child's); -e: logs to stderr (the log file), not syslog.
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', log, log] });
  closeSync(log);
  let spawnError: Error | null = null;
  child.once('error', (error) => (spawnError = error));
  const forget = killOnExit(child);

  const cleanup = async (): Promise<void> => {
    await stopChild(child, STOP_GRACE_MS);
    forget();
    await rm(dir, { recursive: true, force: true });
  };

  const ready = await waitFor(() => sshBanner(port), {
    timeoutMs: READY_MS,
    stopEarly: () => exited(child) || spawnError !== null,
  });
  if (!ready) {
    const why = exited(child)
      ? `exited with ${child.exitCode ?? child.signalCode}`
      : `not answering on 127.0.0.1:${port} in ${READY_MS} ms`;
    const cause = spawnError as Error | null;
    const tail = tailFile(logPath, 30);
    await cleanup();
    throw new Error(`sshd ${why}${cause ? ` (${cause.message})` : ''}; stderr:\n${tail}`);
  }
  const knownHostsLine = `[127.0.0.1]:${port} ${hostPublic.split(' ').slice(0, 2).join(' ')}`;
  return { host: `ssh://${user}@127.0.0.1:${port}`, user, port, clientKey, knownHostsLine, dir, stop: cleanup };
}
