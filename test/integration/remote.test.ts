/**
 * A remote engine over TCP with TLS: a throwaway dockerd that listens on 127.0.0.1 with --tlsverify (certificates
 * made here with openssl), reached through --tls-* flags, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and Docker CLI
 * contexts; wrong or missing certificates are refused with one clear line. Loopback addresses only.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextId } from '../../src/engine/contexts.js';
import type { Inventory } from '../../src/inventory/types.js';
import { runCli } from '../support/cli.js';
import { DOCKERD_NOT_FOUND, engineTestsSkipped, startDockerd } from '../support/dockerd.js';
import { loadImage } from '../support/fixtures.js';
import { exited, freePort, mountsUnder, runCommand, stopChild, tailFile, waitFor, which } from '../support/process.js';

interface Certs {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  serverCert: string;
  serverKey: string;
  /** A CA that did not sign the engine's certificate. */
  otherCa: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runCommand('sh', ['-c', `cd "${cwd}" && openssl ${args.map((a) => `'${a}'`).join(' ')}`], {
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as the Docker docs make them (EC keys: fast). */
async function makeCerts(dir: string): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=imgsweep test CA'],
    dir,
  );
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'other-ca-key.pem',
      '-out',
      'other-ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=imgsweep other CA',
    ],
    dir,
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  await openssl(['req', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      'server-cert.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  await openssl(['req', ...ec, '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=imgsweep client'], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-extfile',
      'client.ext',
    ],
    dir,
  );
  const at = (f: string) => join(dir, f);
  return {
    dir,
    ca: at('ca.pem'),
    cert: at('cert.pem'),
    key: at('key.pem'),
    serverCert: at('server-cert.pem'),
    serverKey: at('server-key.pem'),
    otherCa: at('other-ca.pem'),
  };
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface TlsEngine {
  /** tcp://127.0.0.1:PORT */
  tcp: string;
  docker: Docker;
  stop(): Promise<void>;
}

/** dockerd as test/support/dockerd.ts starts it, plus a TCP listener on loopback that demands client certificates. */
async function startTlsDockerd(certs: Certs): Promise<TlsEngine> {
  const bin = which('dockerd');
  if (bin === null) throw new Error(DOCKERD_NOT_FOUND);
  const dir = await mkdtemp('/tmp/isw-tls-');
  const socketPath = join(dir, 'docker.sock');
  const port = await freePort();
  const logPath = join(dir, 'dockerd.log');
  const log = openSync(logPath, 'a');
  const child = spawn(
    bin,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${socketPath}`,
      '--host',
      `tcp://127.0.0.1:${port}`,
      '--tlsverify',
      '--tlscacert',
      certs.ca,
      '--tlscert',
      certs.serverCert,
      '--tlskey',
      certs.serverKey,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const killOnExit = (): void => {
    try {
      if (child.pid !== undefined && !exited(child)) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killOnExit);
  const cleanup = async (): Promise<void> => {
    await stopChild(child, 15_000);
    killOnExit();
    process.off('exit', killOnExit);
    for (const point of mountsUnder(dir)) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
    await rm(dir, { recursive: true, force: true });
  };
  if (!(await waitFor(() => ping(socketPath), { timeoutMs: 30_000, stopEarly: () => exited(child) }))) {
    const tail = tailFile(logPath, 30);
    await cleanup();
    throw new Error(`dockerd with TLS did not start; log tail:\n${tail}`);
  }
  const docker = new Docker({ socketPath, host: undefined, protocol: 'http', timeout: 120_000 });
  return { tcp: `tcp://127.0.0.1:${port}`, docker, stop: cleanup };
}

/** A Docker CLI context as `docker context create` stores it. */
async function writeContext(
  config: string,
  name: string,
  host: string,
  tls: Partial<Record<'ca' | 'cert' | 'key', string>>,
): Promise<void> {
  const id = contextId(name);
  await mkdir(join(config, 'contexts', 'meta', id), { recursive: true });
  const meta = {
    Name: name,
    Metadata: { Description: 'imgsweep test' },
    Endpoints: { docker: { Host: host, SkipTLSVerify: false } },
  };
  await writeFile(join(config, 'contexts', 'meta', id, 'meta.json'), JSON.stringify(meta));
  const tlsDir = join(config, 'contexts', 'tls', id, 'docker');
  await mkdir(tlsDir, { recursive: true });
  for (const [kind, file] of Object.entries(tls)) await copyFile(file, join(tlsDir, `${kind}.pem`));
}

describe.skipIf(engineTestsSkipped())('a remote engine over TCP with TLS', () => {
  let dir: string;
  let certs: Certs;
  let engine: TlsEngine;
  let config: string;
  let imageId: string;

  /** The CLI with a private DOCKER_CONFIG (no ~/.docker of the test runner) and state dir. */
  const imgsweep = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli([...args, '--state-dir', join(dir, 'state')], { env: { DOCKER_CONFIG: config, ...env } });
  const flags = () => ['--tls-verify', '--tls-ca', certs.ca, '--tls-cert', certs.cert, '--tls-key', certs.key];

  /** The inventory printed as JSON, checked to be this engine's. */
  const inventoryOf = (stdout: string): Inventory => {
    const inventory = JSON.parse(stdout) as Inventory;
    expect(inventory.engine.host).toBe(engine.tcp);
    expect(inventory.images.map((i) => i.id)).toContain(imageId);
    return inventory;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-remote-'));
    config = join(dir, 'docker-config');
    await mkdir(config);
    certs = await makeCerts(join(dir, 'certs'));
    engine = await startTlsDockerd(certs);
    imageId = await loadImage(engine.docker, { tags: ['isw-remote/app:1'], created: '2020-01-01T00:00:00Z' });
  });

  afterAll(async () => {
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('inventory --host tcp://… --tls-verify --tls-ca --tls-cert --tls-key reads the engine over TLS', async () => {
    const r = await imgsweep(['inventory', '--host', engine.tcp, ...flags(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(inventoryOf(r.stdout).images.find((i) => i.id === imageId)?.repoTags).toEqual(['isw-remote/app:1']);
  });

  it('the same through DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, with --host or DOCKER_HOST', async () => {
    const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.dir };
    const byFlag = await imgsweep(['inventory', '--host', engine.tcp, '--json'], env);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    inventoryOf(byFlag.stdout);
    const byEnv = await imgsweep(['inventory', '--json'], { ...env, DOCKER_HOST: engine.tcp });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    inventoryOf(byEnv.stdout);
  });

  it('through a Docker CLI context: --context NAME, DOCKER_CONTEXT, and currentContext in config.json', async () => {
    await writeContext(config, 'isw-remote', engine.tcp, { ca: certs.ca, cert: certs.cert, key: certs.key });
    const byFlag = await imgsweep(['inventory', '--context', 'isw-remote', '--json']);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(byFlag.stderr).toBe('');
    inventoryOf(byFlag.stdout);
    // DOCKER_TLS_VERIFY/DOCKER_CERT_PATH belong to the default context: a bad one does not spoil a named context.
    const byEnv = await imgsweep(['inventory', '--json'], {
      DOCKER_CONTEXT: 'isw-remote',
      DOCKER_CERT_PATH: join(dir, 'nowhere'),
    });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    inventoryOf(byEnv.stdout);
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'isw-remote' }));
    try {
      const current = await imgsweep(['inventory', '--json']);
      expect(current.code, current.stderr).toBe(0);
      inventoryOf(current.stdout);
      // DOCKER_HOST wins over the current context, as in the docker CLI.
      const overridden = await imgsweep(['inventory', '--json'], { DOCKER_HOST: 'unix:///nonexistent/isw.sock' });
      expect(overridden.code).toBe(1);
      expect(overridden.stderr).toContain('unix:///nonexistent/isw.sock');
    } finally {
      await rm(join(config, 'config.json'));
    }
  });

  it.skipIf(which('docker') === null)('through a context made by `docker context create`', async () => {
    const cliConfig = join(dir, 'cli-config');
    await mkdir(cliConfig, { recursive: true });
    const created = await runCommand(
      which('docker')!,
      [
        'context',
        'create',
        'isw-made',
        '--docker',
        `host=${engine.tcp},ca=${certs.ca},cert=${certs.cert},key=${certs.key}`,
      ],
      { env: { ...process.env, DOCKER_CONFIG: cliConfig, DOCKER_HOST: '', DOCKER_CONTEXT: '' } },
    );
    expect(created.code, created.stderr).toBe(0);
    const r = await runCli(['inventory', '--context', 'isw-made', '--json', '--state-dir', join(dir, 'state')], {
      env: { DOCKER_CONFIG: cliConfig },
    });
    expect(r.code, r.stderr).toBe(0);
    inventoryOf(r.stdout);
  });

  it('an unknown context exits 2 listing the known ones', async () => {
    await writeContext(config, 'isw-remote', engine.tcp, { ca: certs.ca, cert: certs.cert, key: certs.key });
    const r = await imgsweep(['inventory', '--context', 'isw-remot']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `imgsweep: --context "isw-remot": no such Docker context in ${join(config, 'contexts')} (known: default, isw-remote)\n`,
    );
  });

  it('a wrong CA is refused with one clear line, exit 1', async () => {
    const r = await imgsweep([
      'inventory',
      '--host',
      engine.tcp,
      '--tls-verify',
      '--tls-ca',
      certs.otherCa,
      '--tls-cert',
      certs.cert,
      '--tls-key',
      certs.key,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^imgsweep: TLS: the engine's certificate is not signed by the CA in ${certs.otherCa.replace(/[.]/g, '\\.')} \\(${engine.tcp}: `,
        ),
      ),
    ]);
  });

  it('no client certificate is refused with one clear line, exit 1', async () => {
    const r = await imgsweep(['inventory', '--host', engine.tcp, '--tls-verify', '--tls-ca', certs.ca]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^imgsweep: TLS: ${engine.tcp} requires a client certificate \\(.*\\): give --tls-cert FILE and --tls-key FILE`,
        ),
      ),
    ]);
  });

  it('a client certificate the engine does not trust is refused, naming it', async () => {
    // The server's certificate is signed by the right CA but is not for client use.
    const r = await imgsweep([
      'inventory',
      '--host',
      engine.tcp,
      '--tls-ca',
      certs.ca,
      '--tls-cert',
      certs.serverCert,
      '--tls-key',
      certs.serverKey,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^imgsweep: TLS: ${engine.tcp} refused the client certificate ${certs.serverCert.replace(/[.]/g, '\\.')} `,
      ),
    );
  });

  it('a TLS engine reached without TLS says so in one line, exit 1', async () => {
    const r = await imgsweep(['inventory', '--host', engine.tcp]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `imgsweep: TLS: ${engine.tcp} requires TLS but was reached without it: add --tls-verify with --tls-ca, --tls-cert and --tls-key (or set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)`,
    ]);
  });

  it('missing or unusable certificate files are refused before connecting, exit 2', async () => {
    const missing = await imgsweep([
      'inventory',
      '--host',
      engine.tcp,
      '--tls-verify',
      '--tls-ca',
      certs.ca,
      '--tls-cert',
      join(dir, 'nope.pem'),
      '--tls-key',
      certs.key,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`imgsweep: --tls-cert ${join(dir, 'nope.pem')}: cannot read it (no such file)\n`);
    const mismatched = await imgsweep([
      'inventory',
      '--host',
      engine.tcp,
      '--tls-ca',
      certs.ca,
      '--tls-cert',
      certs.cert,
      '--tls-key',
      certs.serverKey,
    ]);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toMatch(/^imgsweep: TLS: cannot use .*cert\.pem.*: .*key values mismatch/);
    const notTcp = await imgsweep(['inventory', '--host', 'unix:///nonexistent/isw.sock', '--tls-verify']);
    expect(notTcp.code).toBe(2);
    expect(notTcp.stderr).toMatch(/--tls-verify: TLS is for tcp:\/\/ engines/);
  });

  it('plans over TLS: the plan records the tcp:// address, no warning for loopback', async () => {
    const policy = join(dir, 'policy.yaml');
    await writeFile(
      policy,
      'version: 1\nrules:\n  - name: old\n    match: { repositories: ["isw-remote/**"] }\n    olderThan: 30d\n',
    );
    const r = await imgsweep(['plan', '-p', policy, '--host', engine.tcp, ...flags(), '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const plan = JSON.parse(r.stdout) as { engine: { host: string }; actions: { type: string; imageId: string }[] };
    expect(plan.engine.host).toBe(engine.tcp);
    expect(plan.actions).toEqual([expect.objectContaining({ type: 'delete', imageId })]);
  });

  it('a plan set made through a TLS context and a local socket is applied with no flags: each engine reached as it was named', async () => {
    await writeContext(config, 'isw-remote', engine.tcp, { ca: certs.ca, cert: certs.cert, key: certs.key });
    const local = await startDockerd();
    try {
      const localId = await loadImage(local.docker, { tags: ['isw-remote/local:1'], created: '2020-01-01T00:00:00Z' });
      const policy = join(dir, 'set-policy.yaml');
      await writeFile(
        policy,
        'version: 1\nrules:\n  - name: old\n    match: { repositories: ["isw-remote/**"] }\n    olderThan: 30d\n',
      );
      const file = join(dir, 'plans.json');
      const made = await imgsweep([
        'plan',
        '-p',
        policy,
        '--context',
        'isw-remote',
        '--host',
        local.host,
        '-o',
        file,
        '--quiet',
      ]);
      expect(made.code, made.stderr).toBe(0);
      const set = JSON.parse(await readFile(file, 'utf8')) as {
        plans: { engine: { host: string; context?: string } }[];
      };
      expect(set.plans.map((p) => p.engine)).toEqual([
        expect.objectContaining({ host: local.host }),
        expect.objectContaining({ host: engine.tcp, context: 'isw-remote' }),
      ]);
      expect(set.plans[0]!.engine.context).toBeUndefined();

      const r = await imgsweep(['apply', file, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stderr).toBe('');
      for (const [d, id] of [
        [engine.docker, imageId],
        [local.docker, localId],
      ] as const) {
        await expect(d.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      }
    } finally {
      await local.stop();
    }
  });
});
