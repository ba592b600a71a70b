/** Registry credentials as the Docker CLI finds them: config.json, then `docker-credential-<name> get`. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  credentialSource,
  EMPTY_CONFIG,
  parseDockerConfig,
  type Credentials,
  type DockerConfig,
} from './docker-config.js';

/** Credentials, none (anonymous), or why they could not be had (a reason that never holds a secret). */
export type CredentialsResult = { credentials: Credentials | null } | { error: string };

/** Reads `<dir>/config.json`; a missing file is an empty config. */
export async function readDockerConfig(dir: string): Promise<DockerConfig | { error: string }> {
  const path = join(dir, 'config.json');
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return EMPTY_CONFIG;
    return { error: `cannot read ${path}: ${code ?? String(error)}` };
  }
  try {
    return parseDockerConfig(source);
  } catch (error) {
    return { error: `${path}: ${(error as Error).message}` };
  }
}

/** What a helper prints when it holds nothing for the address (docker-credential-helpers' ErrCredentialsNotFound). */
const NOT_FOUND = /credentials not found/i;

/**
 * Runs `docker-credential-<helper> get` with the server address on stdin, as the Docker CLI does, and reads
 * {"Username","Secret"}. A Username of "<token>" means the Secret is an identity token.
 */
export function runCredentialHelper(
  helper: string,
  serverAddress: string,
  o: { env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<CredentialsResult> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve) => {
    // In a process group of its own, so that the deadline ends what the helper started too.
    const child = spawn(program, ['get'], { env: o.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let settled = false;
    const settle = (result: CredentialsResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    // At the deadline the helper is killed and the answer given at once: a process it started may hold its output open.
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout.destroy();
      child.stderr.destroy();
      settle({ error: `credential helper ${program} gave no answer in ${o.timeoutMs / 1000} s` });
    }, o.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => out.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? 'not found on PATH' : (error.code ?? error.message);
      settle({ error: `credential helper ${program}: ${why}` });
    });
    child.on('close', (code) => {
      const output = Buffer.concat(out).toString('utf8').trim();
      if (code !== 0) {
        if (NOT_FOUND.test(output)) return settle({ credentials: null });
        const line = (output.split('\n')[0] ?? '').slice(0, 200);
        return settle({ error: `credential helper ${program} failed (exit ${code})${line ? `: ${line}` : ''}` });
      }
      settle(helperAnswer(program, output));
    });
    child.stdin.on('error', () => undefined); // the helper may exit without reading its input
    child.stdin.end(serverAddress);
  });
}

/** The helper's JSON answer; its text is never quoted back (it holds the secret). */
export function helperAnswer(program: string, output: string): CredentialsResult {
  let answer: unknown;
  try {
    answer = JSON.parse(output);
  } catch {
    return { error: `credential helper ${program} printed something other than JSON` };
  }
  const { Username: username, Secret: secret } = (answer ?? {}) as { Username?: unknown; Secret?: unknown };
  if (typeof secret !== 'string' || typeof username !== 'string') {
    return { error: `credential helper ${program} gave no Username and Secret` };
  }
  if (secret === '') return { credentials: null };
  if (username === '<token>') return { credentials: { kind: 'identity', username: '', token: secret } };
  return { credentials: { kind: 'basic', username, password: secret } };
}

/** A registry's credentials from config.json in `dir` (and the helper it names, if any). */
export async function registryCredentials(
  registry: string,
  o: { dockerConfig: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<CredentialsResult> {
  const config = await readDockerConfig(o.dockerConfig);
  if ('error' in config) return config;
  const source = credentialSource(config, registry);
  if (source.kind === 'none') return { credentials: null };
  if (source.kind === 'file') return { credentials: source.credentials };
  return runCredentialHelper(source.helper, source.serverAddress, o);
}
