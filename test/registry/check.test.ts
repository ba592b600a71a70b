/** checkDigests against a registry played by a small node server: statuses, deduplication, concurrency, tokens. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDigests } from '../../src/registry/check.js';
import { MANIFEST_ACCEPT } from '../../src/registry/session.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

interface Fake {
  address: string;
  heads: string[];
  tokens: number;
  maxInFlight: number;
  accepts: string[];
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/**
 * A registry: HEAD of manifests answered by `status(digest)` after `delayMs`; with `bearer`, a token realm of its own
 * (and with `openPing`, /v2/ answers 200 to anyone).
 */
async function fakeRegistry(o: {
  status: (digest: string) => number;
  delayMs?: number;
  bearer?: { expiresIn: number };
  openPing?: boolean;
}) {
  const fake: Fake = { address: '', heads: [], tokens: 0, maxInFlight: 0, accepts: [] };
  let inFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      fake.tokens++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: `t${fake.tokens}`, expires_in: o.bearer!.expiresIn }));
      return;
    }
    const open = o.openPing && url.pathname === '/v2/';
    const authorized = open || !o.bearer || /^Bearer t\d+$/.test(req.headers.authorization ?? '');
    if (!authorized) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${fake.address}/token",service="fake"` });
      res.end();
      return;
    }
    if (url.pathname === '/v2/') {
      res.writeHead(200);
      res.end('{}');
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    if (req.method !== 'HEAD' || !manifest) {
      res.writeHead(400);
      res.end();
      return;
    }
    fake.heads.push(`${manifest[1]}@${manifest[2]}`);
    fake.accepts.push(req.headers.accept ?? '');
    fake.maxInFlight = Math.max(fake.maxInFlight, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, o.delayMs ?? 0));
    inFlight--;
    res.writeHead(o.status(manifest[2]!));
    res.end();
  };
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  fake.address = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return fake;
}

const options = (fake: Fake) => ({
  insecureRegistries: [fake.address],
  env: { PATH: '/usr/bin:/bin', DOCKER_CONFIG: '/nonexistent-isw' },
});

describe('checkDigests', () => {
  it('200 present, 404 absent, anything else unknown with the status; the Accept header names every manifest kind', async () => {
    const statuses: Record<string, number> = { [digest(1)]: 200, [digest(2)]: 404, [digest(3)]: 500, [digest(4)]: 429 };
    const fake = await fakeRegistry({ status: (d) => statuses[d] ?? 404 });
    const refs = [1, 2, 3, 4].map((n) => `${fake.address}/isw/app@${digest(n)}`);
    const { answers, calls } = await checkDigests(refs, options(fake));
    expect(refs.map((ref) => [answers.get(ref)?.status, answers.get(ref)?.reason])).toEqual([
      ['present', null],
      ['absent', null],
      ['unknown', 'HTTP 500'],
      ['unknown', 'HTTP 429 (rate limited)'],
    ]);
    expect(calls).toBe(5);
    expect(new Set(fake.accepts)).toEqual(new Set([MANIFEST_ACCEPT]));
    for (const type of [
      'oci.image.index.v1',
      'oci.image.manifest.v1',
      'manifest.list.v2',
      'distribution.manifest.v2',
    ]) {
      expect(MANIFEST_ACCEPT).toContain(type);
    }
  });

  it('asks once per (repository, digest), whatever names the references use, and answers each as given', async () => {
    const fake = await fakeRegistry({ status: () => 200 });
    const refs = [
      `${fake.address}/isw/app@${digest(1)}`,
      `${fake.address}/isw/app:1.0@${digest(1)}`,
      `${fake.address}/isw/app@${digest(1)}`,
      `${fake.address}/isw/other@${digest(1)}`,
    ];
    const { answers, calls } = await checkDigests(refs, options(fake));
    expect(fake.heads.sort()).toEqual([`isw/app@${digest(1)}`, `isw/other@${digest(1)}`]);
    expect(calls).toBe(3);
    expect([...answers.keys()].sort()).toEqual([...new Set(refs)].sort());
    expect([...answers.values()].every((a) => a.status === 'present' && a.registry === fake.address)).toBe(true);
  });

  it('a reference that is not a digest reference is unknown without asking anything', async () => {
    const { answers, calls } = await checkDigests(['nginx:1.25', 'ghcr.io/o/app@sha256:short']);
    expect(calls).toBe(0);
    expect(answers.get('nginx:1.25')).toMatchObject({ status: 'unknown', registry: 'docker.io' });
    expect(answers.get('ghcr.io/o/app@sha256:short')).toMatchObject({ status: 'unknown', registry: 'ghcr.io' });
  });

  it('keeps at most concurrencyPerRegistry requests in flight', async () => {
    const fake = await fakeRegistry({ status: () => 404, delayMs: 30 });
    const refs = Array.from({ length: 9 }, (_, n) => `${fake.address}/isw/app@${digest(n + 1)}`);
    await checkDigests(refs, { ...options(fake), concurrencyPerRegistry: 3 });
    expect(fake.heads).toHaveLength(9);
    expect(fake.maxInFlight).toBe(3);
  });

  it('fetches a bearer token once per repository, and again once it has expired', async () => {
    const fake = await fakeRegistry({ status: () => 200, bearer: { expiresIn: 60 } });
    const refs = [1, 2, 3].map((n) => `${fake.address}/isw/app@${digest(n)}`);
    const fixed = await checkDigests(refs, { ...options(fake), concurrencyPerRegistry: 1, clock: () => 0 });
    expect(fake.tokens).toBe(1);
    expect(fixed.calls).toBe(1 + 1 + 3);
    expect([...fixed.answers.values()].map((a) => a.status)).toEqual(['present', 'present', 'present']);

    let now = 0;
    const moving = () => (now += 40_000); // every reading of the clock is 40 s later: each token outlives one use
    await checkDigests(refs, { ...options(fake), concurrencyPerRegistry: 1, clock: moving });
    expect(fake.tokens).toBe(1 + 3);
  });

  it('follows a challenge on the manifest when the ping of /v2/ needed none', async () => {
    const fake = await fakeRegistry({ status: () => 200, bearer: { expiresIn: 300 }, openPing: true });
    const refs = [1, 2].map((n) => `${fake.address}/isw/app@${digest(n)}`);
    const { answers, calls } = await checkDigests(refs, { ...options(fake), concurrencyPerRegistry: 1 });
    expect([...answers.values()].map((a) => a.status)).toEqual(['present', 'present']);
    expect(fake.tokens).toBe(1);
    expect(calls).toBe(1 + 1 + 1 + 1 + 1); // ping, refused HEAD, token, HEAD; then the second HEAD with the token
  });
});
