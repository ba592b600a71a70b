/**
 * Registries for the registry client's tests: Debian's docker-registry (distribution v2) with TLS from a CA made
 * here with openssl, htpasswd (bcrypt, from apache2-utils' htpasswd) or token authentication; a token server of
 * our own; a server that accepts and never answers; an image pushed through the registry's HTTP API. Everything
 * lives under a folder the caller makes and removes.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID, sign } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { exited, freePort, runCommand, stopChild, tailFile, waitFor, which } from './process.js';

export const DOCKER_REGISTRY_NOT_FOUND =
  "docker-registry not found: install Debian's docker-registry (apt-get install -y docker-registry) " +
  'or set IMGSWEEP_SKIP_ENGINE_TESTS=1 to skip the real-engine tests';

async function run(cmd: string, args: string[]): Promise<string> {
  const bin = which(cmd);
  if (bin === null) throw new Error(`${cmd} not found (Debian package: ${cmd === 'htpasswd' ? 'apache2-utils' : cmd})`);
  const result = await runCommand(bin, args);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export interface TestCa {
  /** The CA's certificate (PEM file): what goes in certs.d/<host>/ca.crt. */
  caCert: string;
  /** A server certificate and key the CA signed, for 127.0.0.1 and localhost. */
  serverCert: string;
  serverKey: string;
}

/** A CA and a server certificate for 127.0.0.1/localhost, valid two days, in `dir`. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const p = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
  const ca = ['-subj', '/CN=imgsweep test CA', ...caExtensions.flatMap((e) => ['-addext', e])];
  await run('openssl', ['req', '-x509', ...ec, ...ca, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2']);
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(
    p('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  const serial = `0x${randomBytes(8).toString('hex')}`;
  const signing = ['-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial', serial, '-extfile', p('server.ext')];
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), ...signing, '-days', '2', '-out', p('server.crt')]);
  return { caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key') };
}

export interface TokenSigner {
  /** The self-signed certificate the registry's auth.token.rootcertbundle trusts. */
  cert: string;
  issuer: string;
  service: string;
  /** A signed JWT granting `actions` on repository `name`. */
  mint(subject: string, access: { name: string; actions: string[] }[]): string;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** An RSA key and self-signed certificate in `dir` that sign registry tokens (RS256, the certificate in x5c). */
export async function makeTokenSigner(dir: string): Promise<TokenSigner> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'token.crt');
  const keyPath = join(dir, 'token.key');
  const subject = ['-subj', '/CN=imgsweep test token issuer', '-days', '2'];
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...subject, '-keyout', keyPath, '-out', cert]);
  const key = await readFile(keyPath, 'utf8');
  const pem = await readFile(cert, 'utf8');
  const der = pem.replace(/-----[^-]+-----|\s/g, '');
  const issuer = 'imgsweep-test-issuer';
  const service = 'imgsweep-test-registry';
  return {
    cert,
    issuer,
    service,
    mint(subject, access) {
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der] }));
      const claims = b64url(
        JSON.stringify({
          iss: issuer,
          sub: subject,
          aud: service,
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomUUID(),
          access: access.map((a) => ({ type: 'repository', ...a })),
        }),
      );
      const signature = sign('sha256', Buffer.from(`${header}.${claims}`), key);
      return `${header}.${claims}.${b64url(signature)}`;
    },
  };
}

export interface TokenServer {
  realm: string;
  /** Requests received so far. */
  requests: number;
  stop(): Promise<void>;
}

/**
 * A token server: GET /token with Basic credentials of a known user (or none: a token granting nothing), or POST
 * an OAuth2 refresh_token grant with the known refresh token. Wrong credentials get 401.
 */
export async function startTokenServer(
  signer: TokenSigner,
  o: { users: Record<string, string>; refreshToken: string },
): Promise<TokenServer> {
  const port = await freePort();
  const server = createHttpServer((req, res) => {
    state.requests++;
    void answer(req).then(({ status, body }) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  const answer = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const url = new URL(req.url ?? '/', 'http://token');
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const params = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    const scope = /^repository:([^:]+):(.+)$/.exec(params.get('scope') ?? '');
    const granted = scope ? [{ name: scope[1]!, actions: scope[2]!.split(',') }] : [];
    if (req.method === 'POST') {
      if (params.get('grant_type') !== 'refresh_token' || params.get('refresh_token') !== o.refreshToken) {
        return { status: 401, body: { details: 'invalid refresh token' } };
      }
      return { status: 200, body: { access_token: signer.mint('refresh-user', granted), expires_in: 300 } };
    }
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!basic) return { status: 200, body: { token: signer.mint('', []), expires_in: 300 } };
    const decoded = Buffer.from(basic[1]!, 'base64').toString();
    const user = decoded.slice(0, decoded.indexOf(':'));
    if (o.users[user] === undefined || decoded !== `${user}:${o.users[user]}`) {
      return { status: 401, body: { details: 'incorrect username or password' } };
    }
    return { status: 200, body: { token: signer.mint(user, granted), expires_in: 300 } };
  };
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const state: TokenServer = {
    realm: `http://127.0.0.1:${port}/token`,
    requests: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}

export interface RegistrySpec {
  tls?: TestCa;
  /** An htpasswd file (bcrypt entries). */
  htpasswd?: string;
  token?: { signer: TokenSigner; realm: string };
}

export interface RunningRegistry {
  /** 127.0.0.1:PORT */
  address: string;
  /** http://… or https://… */
  base: string;
  /** The CA to trust for `base` (TLS registries). */
  ca?: string;
  stop(): Promise<void>;
}

/** Any HTTP answer on /v2/ (401 too) means the registry is up. */
function answersAtAll(url: string, ca?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { timeout: 2_000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Debian's docker-registry on a free loopback port, data and config under `dir`, deletes enabled. */
export async function startTestRegistry(dir: string, spec: RegistrySpec = {}): Promise<RunningRegistry> {
  const bin = which('docker-registry');
  if (bin === null) throw new Error(DOCKER_REGISTRY_NOT_FOUND);
  await mkdir(dir, { recursive: true });
  const address = `127.0.0.1:${await freePort()}`;
  const http: Record<string, unknown> = { addr: address, secret: randomUUID() };
  if (spec.tls) http.tls = { certificate: spec.tls.serverCert, key: spec.tls.serverKey };
  const auth = spec.htpasswd
    ? { htpasswd: { realm: 'imgsweep-test', path: spec.htpasswd } }
    : spec.token
      ? {
          token: {
            realm: spec.token.realm,
            service: spec.token.signer.service,
            issuer: spec.token.signer.issuer,
            rootcertbundle: spec.token.signer.cert,
          },
        }
      : undefined;
  const config = {
    version: 0.1,
    log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http,
    ...(auth ? { auth } : {}),
  };
  await writeFile(join(dir, 'config.yml'), `${JSON.stringify(config, null, 2)}\n`); // JSON is YAML
  const logPath = join(dir, 'registry.log');
  const log = openSync(logPath, 'a');
  const child = spawn(bin, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  child.on('error', () => undefined); // reported below through the failed readiness check
  const base = `${spec.tls ? 'https' : 'http'}://${address}`;
  const ca = spec.tls ? await readFile(spec.tls.caCert, 'utf8') : undefined;
  const stop = (): Promise<void> => stopChild(child, 5_000);
  const ready = await waitFor(() => answersAtAll(`${base}/v2/`, ca), {
    timeoutMs: 15_000,
    stopEarly: () => exited(child),
  });
  if (!ready) {
    await stop();
    throw new Error(`docker-registry did not answer on ${base}; log tail:\n${tailFile(logPath, 20)}`);
  }
  return { address, base, ...(ca ? { ca } : {}), stop };
}

/** An htpasswd file with one bcrypt entry (`htpasswd -Bbn`, as distribution accepts only bcrypt). */
export async function writeHtpasswd(path: string, user: string, password: string): Promise<void> {
  await writeFile(path, await run('htpasswd', ['-Bbn', user, password]));
}

/** A `docker-credential-<name>` script in `binDir` that knows one server address. */
export async function writeCredentialHelper(
  binDir: string,
  name: string,
  known: { serverAddress: string; username: string; secret: string },
): Promise<void> {
  await mkdir(binDir, { recursive: true });
  const answer = JSON.stringify({ ServerURL: known.serverAddress, Username: known.username, Secret: known.secret });
  const script = [
    '#!/bin/sh',
    '[ "$1" = get ] || exit 1',
    'read -r address',
    `if [ "$address" = '${known.serverAddress}' ]; then printf '%s\\n' '${answer}'; exit 0; fi`,
    'echo "credentials not found in native keychain"',
    'exit 1',
    '',
  ].join('\n');
  const path = join(binDir, `docker-credential-${name}`);
  await writeFile(path, script);
  await chmod(path, 0o755);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  registry: RunningRegistry,
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  const url = new URL(path, registry.base);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: o.headers, ...(registry.ca ? { ca: registry.ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

function expectStatus(answer: Answer, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status} ${answer.body}`);
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * Pushes a minimal OCI image (a config blob and one random layer) to `name` through the registry's HTTP API: each
 * blob by POST then PUT to the upload location, then the manifest by tag. Returns "127.0.0.1:PORT/name@sha256:…".
 */
export async function pushTestImage(
  registry: RunningRegistry,
  name: string,
  o: { authorization?: string; tag?: string } = {},
): Promise<string> {
  const auth: Record<string, string> = o.authorization ? { authorization: o.authorization } : {};
  const layer = randomBytes(512);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }),
  );
  for (const blob of [config, layer]) {
    const started = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`, { headers: auth });
    expectStatus(started, 202, `start upload to ${name}`);
    const location = new URL(String(started.headers.location), registry.base);
    location.searchParams.set('digest', sha256(blob));
    const headers = { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(blob.length) };
    const put = await call(registry, 'PUT', location.pathname + location.search, { headers, body: blob });
    expectStatus(put, 201, `upload a blob to ${name}`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  });
  const headers = { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
  const put = await call(registry, 'PUT', `/v2/${name}/manifests/${o.tag ?? 'latest'}`, { headers, body: manifest });
  expectStatus(put, 201, `put the manifest of ${name}`);
  return `${registry.address}/${name}@${sha256(manifest)}`;
}

/** DELETE /v2/<name>/manifests/<digest> (the registry must have storage.delete.enabled). */
export async function deleteManifest(
  registry: RunningRegistry,
  reference: string,
  o: { authorization?: string } = {},
): Promise<void> {
  const [repo, digest] = reference.split('@') as [string, string];
  const name = repo.slice(repo.indexOf('/') + 1);
  const headers: Record<string, string> = o.authorization ? { authorization: o.authorization } : {};
  expectStatus(await call(registry, 'DELETE', `/v2/${name}/manifests/${digest}`, { headers }), 202, 'delete');
}

/** A server that accepts connections and never answers. */
export async function startSilentServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
