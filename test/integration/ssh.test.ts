/**
 * A remote engine over ssh://: a throwaway dockerd reached through a throwaway OpenSSH server whose only command is
 * `docker system dial-stdio` (test/support/sshd.ts), as docker-modem's ssh transport (ssh2) expects, logging in with
 * a key held by an ssh-agent (SSH_AUTH_SOCK). Reads, plans and deletions work as through the unix socket, with
 * nothing on stderr; a refused login or a closed port fails in one line, exit 1, nothing deleted.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, type CliResult } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { loadImage } from '../support/fixtures.js';
import { freePort, runCommand } from '../support/process.js';
import { generateKey, startSshAgent, startSshd, type TestSshd } from '../support/sshd.js';

const OLD = '2020-01-01T00:00:00Z';
const POLICY = 'version: 1\nrules:\n  - name: old\n    match: { repositories: ["isw-ssh/old*"] }\n    olderThan: 30d\n';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(engineTestsSkipped())('a remote engine over ssh:// (docker system dial-stdio through OpenSSH)', () => {
  let dir: string;
  let config: string;
  let policy: string;
  let engine: TestEngine;
  let sshd: TestSshd;
  let keep: string;
  /** Node warnings (deprecations…) emitted while a test ran: imgsweep must cause none. */
  let warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);

  let home: string;

  /**
   * The CLI in-process, with a private DOCKER_CONFIG, state dir and HOME (whose ~/.ssh/known_hosts knows the test
   * server's host key); by default with the agent that holds the key.
   */
  const imgsweep = (args: string[], env: NodeJS.ProcessEnv = { SSH_AUTH_SOCK: sshd.agentSocket }): Promise<CliResult> =>
    runCli([...args, '--state-dir', join(dir, 'state')], { env: { DOCKER_CONFIG: config, HOME: home, ...env } });

  /** A HOME whose ~/.ssh/known_hosts holds `text`. */
  async function homeWith(name: string, text: string): Promise<string> {
    const h = join(dir, name);
    await mkdir(join(h, '.ssh'), { recursive: true });
    await writeFile(join(h, '.ssh', 'known_hosts'), text);
    return h;
  }

  const imageIds = async (): Promise<string[]> => (await engine.docker.listImages({ all: true })).map((i) => i.Id).sort();

  const byId = (inventory: Inventory) => [...inventory.images].sort((a, b) => a.id.localeCompare(b.id));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-ssh-test-'));
    config = join(dir, 'docker-config');
    await mkdir(config);
    policy = join(dir, 'policy.yaml');
    await writeFile(policy, POLICY);
    engine = await startDockerd();
    sshd = await startSshd({ dockerSocket: engine.host.slice('unix://'.length) });
    home = await homeWith('home', `# the test server\n${sshd.knownHostsLine}\n`);
    keep = await loadImage(engine.docker, { tags: ['isw-ssh/keep:1', 'isw-ssh/keep:latest'], created: OLD, labels: { team: 'a' } });
    await loadImage(engine.docker, { created: OLD }); // untagged: listed too, not selected by the policy
  });

  afterAll(async () => {
    await sshd?.stop();
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });

  afterEach(() => {
    process.off('warning', onWarning);
  });

  it('inventory --format json over ssh:// lists the same images and engine as the unix socket', async () => {
    const viaSsh = await imgsweep(['inventory', '--host', sshd.host, '--format', 'json']);
    expect(viaSsh.code, viaSsh.stderr).toBe(0);
    expect(viaSsh.stderr).toBe('');
    const viaUnix = await imgsweep(['inventory', '--host', engine.host, '--format', 'json'], {});
    expect(viaUnix.code, viaUnix.stderr).toBe(0);
    const remote = JSON.parse(viaSsh.stdout) as Inventory;
    const local = JSON.parse(viaUnix.stdout) as Inventory;
    expect(remote.engine.host).toBe(sshd.host);
    expect(local.engine.host).toBe(engine.host);
    // The same daemon, whichever way it is reached: the key is what plans and the lock are bound to.
    expect(remote.engine.key).toBe(local.engine.key);
    expect(remote.engine.id).toBe(local.engine.id);
    expect(remote.engine.rootDir).toBe(join(engine.dir, 'data'));
    expect(byId(remote)).toEqual(byId(local));
    expect(remote.images.map((i) => i.id).sort()).toEqual(await imageIds());
    expect(remote.images.find((i) => i.id === keep)?.repoTags.sort()).toEqual(['isw-ssh/keep:1', 'isw-ssh/keep:latest']);
    expect(warnings).toEqual([]);
  });

  it('as a real process (bin/imgsweep.js), ssh:// leaves stderr empty: no Node deprecation warning', async () => {
    // In a process of its own, where Node prints its warnings (DEP0170 came from docker-modem's ssh URLs).
    const r = await runCommand(process.execPath, ['bin/imgsweep.js', 'inventory', '--host', sshd.host, '--format', 'json', '--state-dir', join(dir, 'state')], {
      env: { PATH: process.env.PATH, SSH_AUTH_SOCK: sshd.agentSocket, DOCKER_CONFIG: config, HOME: home },
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as Inventory).images.map((i) => i.id)).toContain(keep);
  });

  it('plan over ssh:// then apply --yes over ssh:// deletes the image on the daemon, and only it', async () => {
    const old = await loadImage(engine.docker, { tags: ['isw-ssh/old:1'], created: OLD });
    const before = await imageIds();
    const file = join(dir, 'plan.json');
    const planned = await imgsweep(['plan', '-p', policy, '--host', sshd.host, '-o', file, '--quiet']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stderr).toBe('');
    const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
    expect(plan.engine.host).toBe(sshd.host);
    expect(plan.actions).toEqual([expect.objectContaining({ type: 'delete', imageId: old })]);

    const applied = await imgsweep(['apply', file, '--host', sshd.host, '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(/deleted 1 image/);
    await expect(engine.docker.getImage(old).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await imageIds()).toEqual(before.filter((id) => id !== old));
    expect(warnings).toEqual([]);
  });

  describe('a failed login or connection: one line, exit 1, nothing deleted', () => {
    let victim: string;

    beforeAll(async () => {
      victim = await loadImage(engine.docker, { tags: ['isw-ssh/old:2'], created: OLD });
    });

    /** apply -p over ssh:// with `env`, for an address that must fail before anything is read or deleted. */
    async function refused(host: string, env: NodeJS.ProcessEnv): Promise<string> {
      const before = await imageIds();
      expect(before).toContain(victim);
      const r = await imgsweep(['apply', '-p', policy, '--host', host, '--yes'], env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith('\n')).toBe(true);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(await imageIds()).toEqual(before);
      expect(warnings).toEqual([]);
      return r.stderr;
    }

    it('without SSH_AUTH_SOCK the login is refused, and the message says imgsweep logs in through ssh-agent', async () => {
      expect(await refused(sshd.host, {})).toBe(
        `imgsweep: cannot log in to the container engine at ${sshd.host} (from --host): All configured authentication methods ` +
          'failed; SSH_AUTH_SOCK is not set: imgsweep logs in with the keys of a running ssh-agent only (ssh-add your key)\n',
      );
    });

    it('an agent without the key (empty, or holding another key) is refused, naming the agent', async () => {
      await generateKey(join(dir, 'stranger'));
      for (const [name, keys] of [['empty', []], ['stranger', [join(dir, 'stranger')]]] as const) {
        const agent = await startSshAgent(join(dir, `${name}.sock`), [...keys]);
        try {
          expect(await refused(sshd.host, { SSH_AUTH_SOCK: agent.socket })).toBe(
            `imgsweep: cannot log in to the container engine at ${sshd.host} (from --host): All configured authentication ` +
              `methods failed; the ssh-agent at SSH_AUTH_SOCK=${agent.socket} holds no key that ${sshd.host} accepts (ssh-add it)\n`,
          );
        } finally {
          await agent.stop();
        }
      }
    });

    it('an SSH_AUTH_SOCK where no agent listens says so', async () => {
      const gone = join(dir, 'no-agent.sock');
      expect(await refused(sshd.host, { SSH_AUTH_SOCK: gone })).toBe(
        `imgsweep: cannot log in to the container engine at ${sshd.host} (from --host): Failed to connect to agent; ` +
          `cannot use the ssh-agent at SSH_AUTH_SOCK=${gone}: is it running?\n`,
      );
    });

    it('a server whose host key is not in known_hosts is refused before logging in, naming the files', async () => {
      const stranger = await homeWith('home-empty', '');
      const name = `[127.0.0.1]:${sshd.port}`;
      expect(await refused(sshd.host, { SSH_AUTH_SOCK: sshd.agentSocket, HOME: stranger })).toBe(
        `imgsweep: refusing the container engine at ${sshd.host} (from --host): the host key of ${name} is not in ` +
          `${join(stranger, '.ssh', 'known_hosts')} or /etc/ssh/ssh_known_hosts: connect once with \`ssh -p ${sshd.port} HOST\` to check and accept it, or add it with ssh-keyscan\n`,
      );
    });

    it('a server whose host key differs from the known one is refused: someone may be in between', async () => {
      const other = await generateKey(join(dir, 'impostor'));
      const wrong = await homeWith('home-wrong', `[127.0.0.1]:${sshd.port} ${other.split(' ').slice(0, 2).join(' ')}\n`);
      expect(await refused(sshd.host, { SSH_AUTH_SOCK: sshd.agentSocket, HOME: wrong })).toMatch(
        new RegExp(`^imgsweep: refusing the container engine at ${escape(sshd.host)} \\(from --host\\): the host key of \\[127\\.0\\.0\\.1\\]:${sshd.port} does not match the one in .*: the server changed, or someone is in between\\n$`),
      );
    });

    it('a port where nothing listens: connection refused, naming the address', async () => {
      const host = `ssh://${sshd.user}@127.0.0.1:${await freePort()}`;
      expect(await refused(host, { SSH_AUTH_SOCK: sshd.agentSocket })).toMatch(
        new RegExp(`^imgsweep: cannot reach the container engine at ${escape(host)} \\(from --host\\): connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+; point imgsweep at it with --host URL or DOCKER_HOST\\n$`),
      );
    });
  });
});
