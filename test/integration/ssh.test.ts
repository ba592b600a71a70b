/**
 * A remote engine over ssh://: a throwaway dockerd reached through a throwaway OpenSSH server whose only command is
 * `docker system dial-stdio` (test/support/sshd.ts), by the system's own ssh client, as the docker CLI does. The
 * client's settings come from an ssh config file (host alias, port, user, a key file, known_hosts), not from an
 * agent: a wrapper named `ssh` first on PATH runs the real one with `-F` that file, since OpenSSH reads ~/.ssh from
 * the account's home, which a test must not touch. Reads, plans and deletions work as through the unix socket;
 * an unknown or changed host key, a refused key or a closed port fail in one line, exit 1, nothing deleted.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, type CliResult } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { loadImage } from '../support/fixtures.js';
import { freePort, runCommand, which } from '../support/process.js';
import { generateKey, startSshd, type TestSshd } from '../support/sshd.js';

const OLD = '2020-01-01T00:00:00Z';
const POLICY = 'version: 1\nrules:\n  - name: old\n    match: { repositories: ["isw-ssh/old*"] }\n    olderThan: 30d\n';
/** The engine's address: a host alias that only the ssh config file knows. */
const HOST = 'ssh://isw-engine';

describe.skipIf(engineTestsSkipped())(
  'a remote engine over ssh:// (the system ssh client, docker system dial-stdio)',
  () => {
    let dir: string;
    let config: string;
    let policy: string;
    let bin: string;
    let engine: TestEngine;
    let sshd: TestSshd;
    let keep: string;

    /** An ssh config file for the alias: the server's address, port, user and key; `knownHosts` its only known_hosts. */
    async function sshConfig(name: string, o: { knownHosts: string; key?: string; port?: number }): Promise<string> {
      const knownHosts = join(dir, `${name}.known_hosts`);
      await writeFile(knownHosts, o.knownHosts);
      const file = join(dir, `${name}.ssh_config`);
      const lines = [
        'Host isw-engine',
        '  HostName 127.0.0.1',
        `  Port ${o.port ?? sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${o.key ?? sshd.clientKey}`,
        '  IdentitiesOnly yes',
        '  IdentityAgent none',
        `  UserKnownHostsFile ${knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '',
      ];
      await writeFile(file, lines.join('\n'), { mode: 0o600 });
      return file;
    }

    /** The environment a user's shell would give: ssh on PATH (the wrapper reading `sshConfigFile`), no agent. */
    const envWith = (sshConfigFile: string): NodeJS.ProcessEnv => ({
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      ISW_SSH_CONFIG: sshConfigFile,
      DOCKER_CONFIG: config,
    });

    let good: string;
    const imgsweep = (args: string[], sshConfigFile = good): Promise<CliResult> =>
      runCli([...args, '--state-dir', join(dir, 'state')], { env: envWith(sshConfigFile) });

    const imageIds = async (): Promise<string[]> =>
      (await engine.docker.listImages({ all: true })).map((i) => i.Id).sort();
    const byId = (inventory: Inventory) => [...inventory.images].sort((a, b) => a.id.localeCompare(b.id));

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'isw-ssh-test-'));
      config = join(dir, 'docker-config');
      await mkdir(config);
      policy = join(dir, 'policy.yaml');
      await writeFile(policy, POLICY);
      const ssh = which('ssh');
      if (ssh === null)
        throw new Error("ssh not found: install Debian's openssh-client (apt-get install -y openssh-client)");
      bin = join(dir, 'bin');
      await mkdir(bin);
      await writeFile(join(bin, 'ssh'), `#!/bin/sh\nexec ${ssh} -F "$ISW_SSH_CONFIG" "$@"\n`);
      await chmod(join(bin, 'ssh'), 0o755);
      engine = await startDockerd();
      sshd = await startSshd({ dockerSocket: engine.host.slice('unix://'.length) });
      good = await sshConfig('good', { knownHosts: `# the test server\n${sshd.knownHostsLine}\n` });
      keep = await loadImage(engine.docker, {
        tags: ['isw-ssh/keep:1', 'isw-ssh/keep:latest'],
        created: OLD,
        labels: { team: 'a' },
      });
      await loadImage(engine.docker, { created: OLD }); // untagged: listed too, not selected by the policy
    });

    afterAll(async () => {
      await sshd?.stop();
      await engine?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('inventory --format json over ssh:// lists the same images and engine as the unix socket', async () => {
      const viaSsh = await imgsweep(['inventory', '--host', HOST, '--format', 'json']);
      expect(viaSsh.code, viaSsh.stderr).toBe(0);
      expect(viaSsh.stderr).toBe('');
      const viaUnix = await imgsweep(['inventory', '--host', engine.host, '--format', 'json']);
      expect(viaUnix.code, viaUnix.stderr).toBe(0);
      const remote = JSON.parse(viaSsh.stdout) as Inventory;
      const local = JSON.parse(viaUnix.stdout) as Inventory;
      expect(remote.engine.host).toBe(HOST);
      expect(local.engine.host).toBe(engine.host);
      // The same daemon, whichever way it is reached: the key is what plans and the lock are bound to.
      expect(remote.engine.key).toBe(local.engine.key);
      expect(remote.engine.id).toBe(local.engine.id);
      expect(remote.engine.rootDir).toBe(join(engine.dir, 'data'));
      expect(byId(remote)).toEqual(byId(local));
      expect(remote.images.map((i) => i.id).sort()).toEqual(await imageIds());
      expect(remote.images.find((i) => i.id === keep)?.repoTags.sort()).toEqual([
        'isw-ssh/keep:1',
        'isw-ssh/keep:latest',
      ]);
    });

    it('as a real process (bin/imgsweep.js), ssh:// leaves stderr empty and no ssh behind', async () => {
      const r = await runCommand(
        process.execPath,
        ['bin/imgsweep.js', 'inventory', '--host', HOST, '--format', 'json', '--state-dir', join(dir, 'state')],
        {
          env: envWith(good),
          timeoutMs: 60_000,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect((JSON.parse(r.stdout) as Inventory).images.map((i) => i.id)).toContain(keep);
      const left = await runCommand('pgrep', ['-f', `-F ${good}`], { timeoutMs: 10_000 });
      expect(left.stdout.trim()).toBe('');
    });

    it('plan over ssh:// then apply --yes over ssh:// deletes the image on the daemon, and only it', async () => {
      const old = await loadImage(engine.docker, { tags: ['isw-ssh/old:1'], created: OLD });
      const before = await imageIds();
      const file = join(dir, 'plan.json');
      const planned = await imgsweep(['plan', '-p', policy, '--host', HOST, '-o', file, '--quiet']);
      expect(planned.code, planned.stderr).toBe(0);
      expect(planned.stderr).toBe('');
      const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
      expect(plan.engine.host).toBe(HOST);
      expect(plan.actions).toEqual([expect.objectContaining({ type: 'delete', imageId: old })]);

      const applied = await imgsweep(['apply', file, '--host', HOST, '--yes']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stderr).toBe('');
      expect(applied.stdout).toMatch(/deleted 1 image/);
      await expect(engine.docker.getImage(old).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(await imageIds()).toEqual(before.filter((id) => id !== old));
    });

    describe('a refused host key, login or connection: one line, exit 1, nothing deleted', () => {
      let victim: string;

      beforeAll(async () => {
        victim = await loadImage(engine.docker, { tags: ['isw-ssh/old:2'], created: OLD });
      });

      /** apply -p over ssh:// with an ssh config that must fail before anything is read or deleted; its one line. */
      async function refused(sshConfigFile: string): Promise<string> {
        const before = await imageIds();
        expect(before).toContain(victim);
        const r = await imgsweep(['apply', '-p', policy, '--host', HOST, '--yes'], sshConfigFile);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.endsWith('\n')).toBe(true);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `^imgsweep: cannot reach the container engine at ${HOST} \\(from --host\\): ssh exited with 255: `,
          ),
        );
        expect(await imageIds()).toEqual(before);
        return r.stderr;
      }

      it('a server whose host key is not known is refused (no prompt, no trust on first use)', async () => {
        expect(await refused(await sshConfig('unknown', { knownHosts: '' }))).toMatch(
          /Host key verification failed\.\n$/,
        );
      });

      it('a server whose host key differs from the known one is refused', async () => {
        const other = await generateKey(join(dir, 'impostor'));
        const line = `[127.0.0.1]:${sshd.port} ${other.split(' ').slice(0, 2).join(' ')}\n`;
        expect(await refused(await sshConfig('changed', { knownHosts: line }))).toMatch(
          /Host key verification failed\.\n$/,
        );
      });

      it('a key the server does not accept is refused', async () => {
        await generateKey(join(dir, 'stranger'));
        const file = await sshConfig('stranger', {
          knownHosts: `${sshd.knownHostsLine}\n`,
          key: join(dir, 'stranger'),
        });
        expect(await refused(file)).toMatch(/Permission denied \(publickey\)\.\n$/);
      });

      it('a port where nothing listens: connection refused', async () => {
        const file = await sshConfig('closed', { knownHosts: `${sshd.knownHostsLine}\n`, port: await freePort() });
        expect(await refused(file)).toMatch(/port \d+: Connection refused\n$/);
      });
    });
  },
);
