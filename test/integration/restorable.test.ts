/**
 * protect.unrestorable and match.restorable on a real dockerd with real registries (Debian's docker-registry on
 * 127.0.0.1, which the engine reaches over plain HTTP): an image a registry serves, one built here, one whose
 * manifest was deleted from its registry, and one whose registry is down.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeInventory } from '../../src/inventory/serialize.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan } from '../../src/plan/types.js';
import { inlineInventory } from '../../src/policytest/inline.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { loadImage, pushImage, startRegistry } from '../support/fixtures.js';
import { pushTestImage, startTestRegistry, writeHtpasswd, type RunningRegistry } from '../support/registries.js';

type Registry = Awaited<ReturnType<typeof startRegistry>>;

/** DELETE /v2/NAME/manifests/DIGEST: the registry stops serving that image. */
function deleteManifest(address: string, digestRef: string): Promise<number> {
  const [name, digest] = digestRef.slice(address.length + 1).split('@') as [string, string];
  return new Promise((resolve, reject) => {
    const req = request(`http://${address}/v2/${name}/manifests/${digest}`, { method: 'DELETE' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(engineTestsSkipped())('restorable images against real registries', () => {
  let t: TestEngine;
  let serving: Registry;
  let down: Registry | null = null;
  let dir: string;
  const id: Record<string, string> = {};
  let n = 0;

  const cli = async (policy: string, ...args: string[]) => {
    const file = join(dir, `policy-${++n}.yaml`);
    await writeFile(file, policy);
    return runCli([...args, '-p', file, '--host', t.host, '--state-dir', join(dir, 'state')]);
  };
  const plan = async (policy: string, ...more: string[]): Promise<Plan> => {
    const r = await cli(policy, 'plan', '--format', 'json', ...more);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Plan;
  };
  const deleted = (p: Plan) =>
    p.actions
      .filter((a) => a.type === 'delete')
      .map((a) => a.imageId)
      .sort();
  const keptWhy = (p: Plan, image: string) => p.kept.find((k) => k.imageId === image);

  const PROTECT =
    'version: 1\nprotect: { unrestorable: true }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n';

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'isw-restorable-'));
    serving = await startRegistry();
    down = await startRegistry();
    const push = async (name: string, ref: string) => {
      id[name] = await loadImage(t.docker, { tags: [ref], created: '2026-01-01T00:00:00Z' });
      await pushImage(t.docker, ref);
    };
    await push('served', `${serving.address}/acme/served:1`);
    await push('gone', `${serving.address}/acme/gone:1`);
    await push('down', `${down.address}/acme/down:1`);
    id.built = await loadImage(t.docker, { tags: ['acme/built:1'], created: '2026-01-01T00:00:00Z' });
    const digests = async (image: string) => (await t.docker.getImage(image).inspect()).RepoDigests ?? [];
    const gone = (await digests(id.gone!))[0]!;
    expect(await deleteManifest(serving.address, gone)).toBe(202);
    expect(await digests(id.built)).toEqual([]);
    await down.stop();
    down = null;
  });

  afterAll(async () => {
    await down?.stop();
    await serving?.stop();
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('protect.unrestorable: only the image a registry serves goes; the others stay, each with why', async () => {
    const p = await plan(PROTECT);
    expect(deleted(p)).toEqual([id.served]);
    expect(keptWhy(p, id.built!)).toMatchObject({ reason: 'protected-unrestorable', restorable: 'no' });
    expect(keptWhy(p, id.gone!)).toMatchObject({ reason: 'protected-unrestorable', restorable: 'no' });
    const unknown = keptWhy(p, id.down!) as { restorable: string; detail: string };
    expect(unknown).toMatchObject({ reason: 'protected-unrestorable', restorable: 'unknown' });
    expect(unknown.detail).toContain('127.0.0.1:');
    // Three digests asked, each once; the registry that is down named with its reason.
    expect(p.registry).toMatchObject({ digests: 3, present: 1, absent: 1, unknown: 1 });
    expect(p.registry!.calls).toBeGreaterThanOrEqual(3);
    expect(p.registry!.unreachable).toHaveLength(1);
    const text = await cli(PROTECT, 'plan');
    expect(text.stdout).toMatch(
      /^Registries: asked about 3 digests \(\d+ requests\): 1 served, 1 gone, 1 not known \(could not ask 127\.0\.0\.1:\d+: /m,
    );
    expect(text.stdout).toContain('cannot be pulled again: no repository digest');
    // explain: each digest with its registry's answer.
    const why = await cli(PROTECT, 'explain', id.down!.slice(7, 19));
    expect(why.code, why.stderr).toBe(0);
    expect(why.stdout).toMatch(/^ {2}restorable: not known: the registry could not be asked/m);
    expect(why.stdout).toMatch(
      /^ {4}127\.0\.0\.1:\d+\/acme\/down@sha256:[0-9a-f]{64}: not known \(.+\) by 127\.0\.0\.1:\d+, asked /m,
    );
    const served = await cli(PROTECT, 'explain', `${serving.address}/acme/served:1`);
    expect(served.stdout).toMatch(/^ {4}.*acme\/served@sha256:[0-9a-f]{64}: served by 127\.0\.0\.1:\d+, asked /m);
  });

  it('match restorable: true deletes only what can be pulled again; with the registries off, nothing', async () => {
    const policy = 'version: 1\nrules:\n  - name: pulled\n    match: { restorable: true }\n';
    expect(deleted(await plan(policy))).toEqual([id.served]);
    expect(deleted(await plan(policy, '--registry-check', 'off'))).toEqual([]);
    expect(deleted(await plan(PROTECT, '--registry-check', 'off'))).toEqual([]);
  });

  it('inventory -o -p saves the answers; plan --inventory decides as the live run did, offline', async () => {
    const snap = join(dir, 'snap.json');
    const policyFile = join(dir, 'protect.yaml');
    await writeFile(policyFile, PROTECT);
    const saved = await runCli([
      'inventory',
      '-o',
      snap,
      '-p',
      policyFile,
      '--host',
      t.host,
      '--state-dir',
      join(dir, 'state'),
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    const inv = JSON.parse(await readFile(snap, 'utf8')) as Inventory;
    expect(
      Object.values(inv.registry!.answers)
        .map((a) => a.status)
        .sort(),
    ).toEqual(['absent', 'present', 'unknown']);
    const offline = await runCli(['plan', '-p', policyFile, '--inventory', snap, '--format', 'json']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(deleted(JSON.parse(offline.stdout) as Plan)).toEqual([id.served]);
  });

  it('apply -p removes only the restorable image and leaves the last copies', async () => {
    const r = await cli(PROTECT, 'apply', '--yes', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const left = new Set((await t.docker.listImages()).map((i) => i.Id));
    expect(left.has(id.served!)).toBe(false);
    for (const name of ['built', 'gone', 'down']) expect(left.has(id[name]!), name).toBe(true);
  });
});

describe.skipIf(engineTestsSkipped())('restorable images, registry credentials through the command line', () => {
  const USER = 'isw-user';
  const PASSWORD = 'S3cret-p4ss-for-imgsweep';
  let dir: string;
  let registry: RunningRegistry;
  let digestRef: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-restorable-auth-'));
    await writeHtpasswd(join(dir, 'htpasswd'), USER, PASSWORD);
    registry = await startTestRegistry(join(dir, 'registry'), { htpasswd: join(dir, 'htpasswd') });
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    digestRef = await pushTestImage(registry, 'acme/private', { authorization: basic });
    // A saved inventory holding that image (pulled once, so it carries the digest) and one built here.
    const inv = inlineInventory(
      [
        { refs: [digestRef], created: '2026-01-01T00:00:00Z' },
        { refs: ['acme/built:1'], created: '2026-01-01T00:00:00Z' },
      ],
      [],
      Date.parse('2026-11-27T12:00:00Z'),
    );
    await writeFile(join(dir, 'inventory.json'), serializeInventory(inv));
    await writeFile(join(dir, 'policy.yaml'), PROTECT_ALL);
  });

  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const PROTECT_ALL =
    'version: 1\nprotect: { unrestorable: true }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n';

  async function withConfig(name: string, password: string) {
    const config = join(dir, name);
    await mkdir(config, { recursive: true });
    const auth = Buffer.from(`${USER}:${password}`).toString('base64');
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [registry.address]: { auth } } }));
    const env = { DOCKER_CONFIG: config, PATH: process.env.PATH ?? '' };
    const args = [
      '-p',
      join(dir, 'policy.yaml'),
      '--inventory',
      join(dir, 'inventory.json'),
      '--registry-check',
      'live',
    ];
    const runs = [
      await runCli(['plan', ...args, '--format', 'json'], { env }),
      await runCli(['plan', ...args], { env }),
      await runCli(['explain', digestRef, ...args], { env }),
      await runCli(['diff', '-p', join(dir, 'policy.yaml'), ...args, '--json'], { env }),
    ];
    return { runs, plan: JSON.parse(runs[0]!.stdout) as Plan };
  }

  it('with the credentials in config.json: served, so it may go; no output holds the password', async () => {
    const { runs, plan } = await withConfig('good', PASSWORD);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(plan.actions.filter((a) => a.type === 'delete').map((a) => a.refs)).toEqual([[digestRef]]);
    expect(plan.registry).toMatchObject({ digests: 1, present: 1 });
    const everything = runs.map((r) => r.stdout + r.stderr).join('\n');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });

  it('with a wrong password: not known, kept, and the refusal said without the password', async () => {
    const { runs, plan } = await withConfig('bad', 'wrong-password-xyz');
    expect(plan.actions.filter((a) => a.type === 'delete')).toEqual([]);
    expect(plan.registry!.unreachable[0]!.reason).toMatch(/credentials refused/);
    const everything = runs.map((r) => r.stdout + r.stderr).join('\n');
    expect(everything).toContain('credentials refused');
    expect(everything).not.toContain('wrong-password-xyz');
  });
});
