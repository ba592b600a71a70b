import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  helperAnswer,
  readDockerConfig,
  registryCredentials,
  runCredentialHelper,
} from '../../src/registry/credentials.js';

describe('helperAnswer', () => {
  it('reads Username and Secret; "<token>" makes the secret an identity token', () => {
    expect(helperAnswer('h', '{"ServerURL":"x","Username":"u","Secret":"s"}')).toEqual({
      credentials: { kind: 'basic', username: 'u', password: 's' },
    });
    expect(helperAnswer('h', '{"Username":"<token>","Secret":"r"}')).toEqual({
      credentials: { kind: 'identity', username: '', token: 'r' },
    });
    expect(helperAnswer('h', '{"Username":"","Secret":""}')).toEqual({ credentials: null });
  });

  it('never quotes what the helper printed', () => {
    const result = helperAnswer('docker-credential-h', 'secret-but-not-json');
    expect(result).toEqual({ error: 'credential helper docker-credential-h printed something other than JSON' });
    expect(JSON.stringify(helperAnswer('h', '{"Secret":"s3cr3t"}'))).not.toContain('s3cr3t');
  });
});

describe('credential helpers and config.json on disk', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-creds-'));
    const helper = async (name: string, body: string): Promise<void> => {
      await writeFile(join(dir, `docker-credential-${name}`), `#!/bin/sh\n${body}\n`);
      await chmod(join(dir, `docker-credential-${name}`), 0o755);
    };
    await helper('good', 'read -r a; printf \'{"Username":"u","Secret":"pw-%s"}\' "$a"');
    await helper('none', 'echo "credentials not found in native keychain"; exit 1');
    await helper('broken', 'echo "gpg: decryption failed: No secret key" >&2; exit 1');
    await helper('slow', 'sleep 30 & echo $! > "$0.pid"; wait');
    env = { PATH: `${dir}:/usr/bin:/bin` };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the server address on stdin and reads the answer', async () => {
    expect(await runCredentialHelper('good', 'ghcr.io', { env, timeoutMs: 5_000 })).toEqual({
      credentials: { kind: 'basic', username: 'u', password: 'pw-ghcr.io' },
    });
  });

  it('"credentials not found" is anonymous; a failure, a missing helper or a slow one is a reason', async () => {
    const o = { env, timeoutMs: 5_000 };
    expect(await runCredentialHelper('none', 'ghcr.io', o)).toEqual({ credentials: null });
    expect(await runCredentialHelper('broken', 'ghcr.io', o)).toEqual({
      error: 'credential helper docker-credential-broken failed (exit 1): gpg: decryption failed: No secret key',
    });
    expect(await runCredentialHelper('absent', 'ghcr.io', o)).toEqual({
      error: 'credential helper docker-credential-absent: not found on PATH',
    });
    expect(await runCredentialHelper('slow', 'ghcr.io', { env, timeoutMs: 300 })).toEqual({
      error: 'credential helper docker-credential-slow gave no answer in 0.3 s',
    });
    // What the helper started ends with it.
    const sleeper = Number(await readFile(join(dir, 'docker-credential-slow.pid'), 'utf8'));
    const alive = async (): Promise<boolean> => {
      const stat = await readFile(`/proc/${sleeper}/stat`, 'utf8').catch(() => '');
      return stat !== '' && !/^\d+ \(.*\) Z/.test(stat); // a zombie has ended (its reaping may lag)
    };
    for (let i = 0; i < 50 && (await alive()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await alive()).toBe(false);
  });

  it('a missing config.json is an empty one; an invalid one is a reason that names the file', async () => {
    expect(await readDockerConfig(join(dir, 'nowhere'))).toEqual({ auths: {}, credHelpers: {}, credsStore: null });
    await writeFile(join(dir, 'config.json'), '{"auths": {"x": {"auth": "dTpw"}');
    expect(await registryCredentials('x', { dockerConfig: dir, env, timeoutMs: 1_000 })).toEqual({
      error: `${join(dir, 'config.json')}: config.json is not valid JSON`,
    });
  });

  it('follows credHelpers from config.json', async () => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credHelpers: { 'ghcr.io': 'good' } }));
    expect(await registryCredentials('ghcr.io', { dockerConfig: dir, env, timeoutMs: 5_000 })).toEqual({
      credentials: { kind: 'basic', username: 'u', password: 'pw-ghcr.io' },
    });
  });
});
