/** Debian's docker-registry on a free loopback port, filesystem storage in a temp dir. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freePort, stopChild, tailFile, waitFor, which } from './process.js';

export interface TestRegistry {
  /** "127.0.0.1:PORT": dockerd treats 127.0.0.0/8 as insecure by default, so plain HTTP works. */
  address: string;
  stop(): Promise<void>;
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startRegistry(): Promise<TestRegistry> {
  const bin = which('docker-registry');
  if (bin === null) {
    throw new Error("docker-registry not found: install Debian's docker-registry (apt-get install -y docker-registry)");
  }
  const dir = await mkdtemp(join(tmpdir(), 'isw-registry-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = [
    'version: 0.1',
    'log: { level: warn }',
    `storage: { filesystem: { rootdirectory: "${join(dir, 'data')}" }, delete: { enabled: true } }`,
    `http: { addr: "${address}" }`,
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), `${config}\n`);
  const logPath = join(dir, 'registry.log');
  const log = openSync(logPath, 'a');
  const child = spawn(bin, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  child.on('error', () => undefined); // reported below through the failed readiness check
  const stop = async (): Promise<void> => {
    await stopChild(child, 5_000);
    await rm(dir, { recursive: true, force: true });
  };
  const ready = await waitFor(() => answers(`http://${address}/v2/`), {
    timeoutMs: 15_000,
    stopEarly: () => exited(child),
  });
  if (!ready) {
    const tail = tailFile(logPath, 20);
    await stop();
    throw new Error(`docker-registry did not answer on ${address}; log tail:\n${tail}`);
  }
  return { address, stop };
}
