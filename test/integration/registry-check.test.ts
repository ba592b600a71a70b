/**
 * The registry client against real registries (Debian's docker-registry, distribution v2): an image pushed through
 * the HTTP API is present, a digest never pushed or deleted is absent; TLS with a private CA in certs.d; htpasswd
 * with config.json auths and a credential helper; token authentication through a token server of our own;
 * unreachable and silent registries answer unknown within the deadline; no credential leaks into an answer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDigests, type DigestAnswer, type RegistryCheckOptions } from '../../src/registry/check.js';
import { engineTestsSkipped } from '../support/dockerd.js';
import { freePort } from '../support/process.js';
import {
  deleteManifest,
  makeTestCa,
  makeTokenSigner,
  pushTestImage,
  startSilentServer,
  startTestRegistry,
  startTokenServer,
  writeCredentialHelper,
  writeHtpasswd,
  type RunningRegistry,
  type TokenServer,
  type TokenSigner,
} from '../support/registries.js';

const USER = 'alice';
const PASSWORD = 'pw-7f3a9c-do-not-leak';
const REFRESH_TOKEN = 'refresh-9b14c7-do-not-leak';
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const neverPushed = (): string => `sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;

describe.skipIf(engineTestsSkipped())('checkDigests against real registries', () => {
  let dir: string;
  let plain: RunningRegistry;
  let tls: RunningRegistry;
  let htpasswd: RunningRegistry;
  let token: RunningRegistry;
  let tokenServer: TokenServer;
  let signer: TokenSigner;
  const stops: (() => Promise<void>)[] = [];
  /** Everything every check answered, to look for leaked credentials at the end. */
  const seen: unknown[] = [];

  let configs = 0;
  /** A folder holding config.json with `config`. */
  async function dockerConfig(config: unknown): Promise<string> {
    const folder = join(dir, 'configs', String(++configs));
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'config.json'), JSON.stringify(config));
    return folder;
  }

  async function check(refs: string[], o: RegistryCheckOptions = {}) {
    const env = { ...process.env, DOCKER_CONFIG: join(dir, 'no-config') };
    const result = await checkDigests(refs, { env, certsDir: join(dir, 'no-certs'), ...o });
    seen.push([...result.answers]);
    return result;
  }
  const answer = (result: { answers: Map<string, DigestAnswer> }, ref: string): DigestAnswer => {
    const found = result.answers.get(ref);
    if (!found) throw new Error(`no answer for ${ref}`);
    return found;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-regcheck-'));
    const [ca, tokenSigner] = await Promise.all([makeTestCa(join(dir, 'ca')), makeTokenSigner(join(dir, 'token'))]);
    signer = tokenSigner;
    tokenServer = await startTokenServer(signer, { users: { [USER]: PASSWORD }, refreshToken: REFRESH_TOKEN });
    stops.push(() => tokenServer.stop());
    await writeHtpasswd(join(dir, 'htpasswd'), USER, PASSWORD);
    // Each one started is stopped afterwards, even when another fails to start.
    const started = await Promise.allSettled([
      startTestRegistry(join(dir, 'plain')),
      startTestRegistry(join(dir, 'tls'), { tls: ca }),
      startTestRegistry(join(dir, 'htpasswd-registry'), { htpasswd: join(dir, 'htpasswd') }),
      startTestRegistry(join(dir, 'token-registry'), { token: { signer, realm: tokenServer.realm } }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') stops.push(() => s.value.stop());
    [plain, tls, htpasswd, token] = started.map((s) => {
      if (s.status === 'rejected') throw s.reason;
      return s.value;
    }) as [RunningRegistry, RunningRegistry, RunningRegistry, RunningRegistry];
    await mkdir(join(dir, 'certs.d', tls.address), { recursive: true });
    await writeFile(join(dir, 'certs.d', tls.address, 'ca.crt'), tls.ca!);
  });

  afterAll(async () => {
    await Promise.all(stops.map((stop) => stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a pushed digest is present, a digest never pushed is absent, a deleted manifest is absent', async () => {
    const pushed = await pushTestImage(plain, 'isw/app');
    const other = `${plain.address}/isw/app@${neverPushed()}`;
    const insecureRegistries = [plain.address];
    const result = await check([pushed, other, pushed], { insecureRegistries });
    expect(answer(result, pushed)).toMatchObject({ status: 'present', registry: plain.address, reason: null });
    expect(answer(result, other)).toMatchObject({ status: 'absent', reason: null });
    expect(result.calls).toBe(3); // the ping of /v2/ and one HEAD for each distinct digest
    expect(Date.parse(answer(result, pushed).at)).toBeGreaterThan(Date.now() - 60_000);

    await deleteManifest(plain, pushed);
    const after = await check([pushed], { insecureRegistries: ['127.0.0.0/8'] }); // a CIDR, as the daemon lists it
    expect(answer(after, pushed)).toMatchObject({ status: 'absent', reason: null });
  });

  it('the answer carries the clock given', async () => {
    const ref = `${plain.address}/isw/clock@${neverPushed()}`;
    const result = await check([ref], { insecureRegistries: [plain.address], clock: () => Date.UTC(2026, 0, 2) });
    expect(answer(result, ref).at).toBe('2026-01-02T00:00:00.000Z');
  });

  it('TLS: present with the CA in certs.d/<host:port>/ca.crt, unknown (certificate) without it', async () => {
    const pushed = await pushTestImage(tls, 'isw/tls');
    const trusted = await check([pushed], { certsDir: join(dir, 'certs.d') });
    expect(answer(trusted, pushed)).toMatchObject({ status: 'present', reason: null });
    const untrusted = await check([pushed]);
    expect(answer(untrusted, pushed).status).toBe('unknown');
    expect(answer(untrusted, pushed).reason).toMatch(/certificate/);
  });

  it('htpasswd: auths credentials, a credential helper, refused and missing credentials', async () => {
    const pushed = await pushTestImage(htpasswd, 'isw/private', { authorization: basic(USER, PASSWORD) });
    const insecureRegistries = [htpasswd.address];
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const good = await check([pushed], {
      insecureRegistries,
      dockerConfig: await dockerConfig({ auths: { [htpasswd.address]: { auth } } }),
    });
    expect(answer(good, pushed)).toMatchObject({ status: 'present', reason: null });

    const usernamePassword = await check([pushed], {
      insecureRegistries,
      dockerConfig: await dockerConfig({
        auths: { [`http://${htpasswd.address}/v2/`]: { username: USER, password: PASSWORD } },
      }),
    });
    expect(answer(usernamePassword, pushed)).toMatchObject({ status: 'present' });

    const wrong = await check([pushed], {
      insecureRegistries,
      dockerConfig: await dockerConfig({ auths: { [htpasswd.address]: { username: USER, password: 'wrong' } } }),
    });
    expect(answer(wrong, pushed)).toMatchObject({ status: 'unknown', reason: 'credentials refused' });

    const anonymous = await check([pushed], { insecureRegistries });
    expect(answer(anonymous, pushed).status).toBe('unknown');
    expect(answer(anonymous, pushed).reason).toMatch(/not authorized/);

    // credHelpers wins over auths (whose password is wrong here), as in the Docker CLI.
    const bin = join(dir, 'bin');
    await writeCredentialHelper(bin, 'isw-test', { serverAddress: htpasswd.address, username: USER, secret: PASSWORD });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const helper = await check([pushed], {
      env,
      insecureRegistries,
      dockerConfig: await dockerConfig({
        auths: { [htpasswd.address]: { username: USER, password: 'wrong' } },
        credHelpers: { [htpasswd.address]: 'isw-test' },
      }),
    });
    expect(answer(helper, pushed)).toMatchObject({ status: 'present', reason: null });

    const missing = await check([pushed], {
      env,
      insecureRegistries,
      dockerConfig: await dockerConfig({ credsStore: 'isw-missing' }),
    });
    expect(answer(missing, pushed).status).toBe('unknown');
    expect(answer(missing, pushed).reason).toMatch(/docker-credential-isw-missing: not found/);
  });

  it('token auth: a bearer token from the realm, fetched once per repository and counted', async () => {
    const push = `Bearer ${signer.mint('pusher', [{ name: 'isw/token', actions: ['pull', 'push'] }])}`;
    const pushed = await pushTestImage(token, 'isw/token', { authorization: push });
    const other = `${token.address}/isw/token@${neverPushed()}`;
    const insecureRegistries = [token.address];
    const before = tokenServer.requests;
    const result = await check([pushed, other], {
      insecureRegistries,
      dockerConfig: await dockerConfig({ auths: { [token.address]: { username: USER, password: PASSWORD } } }),
    });
    expect(answer(result, pushed)).toMatchObject({ status: 'present', reason: null });
    expect(answer(result, other)).toMatchObject({ status: 'absent', reason: null });
    expect(tokenServer.requests - before).toBe(1);
    expect(result.calls).toBe(4); // ping, token, two HEADs

    const identity = await check([pushed], {
      insecureRegistries,
      dockerConfig: await dockerConfig({ auths: { [token.address]: { identitytoken: REFRESH_TOKEN } } }),
    });
    expect(answer(identity, pushed)).toMatchObject({ status: 'present', reason: null });

    const wrong = await check([pushed], {
      insecureRegistries,
      dockerConfig: await dockerConfig({ auths: { [token.address]: { username: USER, password: 'wrong' } } }),
    });
    expect(answer(wrong, pushed)).toMatchObject({ status: 'unknown', reason: 'credentials refused' });

    // Anonymous: the token server grants nothing, and the registry refuses the HEAD.
    const anonymous = await check([pushed], { insecureRegistries });
    expect(answer(anonymous, pushed).status).toBe('unknown');
  });

  it('an unreachable registry and one that never answers are unknown within the deadline', async () => {
    const silent = await startSilentServer();
    const closed = `127.0.0.1:${await freePort()}`;
    const refs = [
      `${closed}/isw/gone@${neverPushed()}`,
      `${silent.address}/isw/hang@${neverPushed()}`,
      `${silent.address}/isw/hang2@${neverPushed()}`,
    ];
    const started = Date.now();
    const result = await check(refs, { insecureRegistries: [closed, silent.address], timeoutMs: 500 }).finally(() =>
      silent.stop(),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answer(result, refs[0]!)).toMatchObject({ status: 'unknown', registry: closed });
    expect(answer(result, refs[0]!).reason).toMatch(/ECONNREFUSED/);
    for (const ref of refs.slice(1)) {
      expect(answer(result, ref)).toMatchObject({ status: 'unknown', reason: 'no answer in 0.5 s' });
    }
    expect(result.calls).toBe(2); // one ping each: a registry that fails it is not asked again
  });

  it('no credential appears in any answer', () => {
    const text = JSON.stringify(seen);
    expect(seen.length).toBeGreaterThan(5);
    for (const secret of [PASSWORD, REFRESH_TOKEN, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) {
      expect(text).not.toContain(secret);
    }
  });
});
