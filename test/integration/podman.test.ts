/**
 * imgsweep against a real Podman service (`podman system service`, Docker-compatible API): engine detection and
 * identity, Podman's names as policies see them, and apply where Podman answers differently from Docker (IDs
 * without "sha256:", qualified names, RepoDigests on every tagged image, 500 for "several tags", lost concurrent
 * untags, no sharing in /system/df). The execution rules and the hazards between plan and apply are the
 * suites of test/support/apply-suite.ts and apply-safety-suite.ts (apply-podman.test.ts, apply-safety-podman.test.ts).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/engine/docker.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, type CliResult } from '../support/cli.js';
import { engineTestsSkipped } from '../support/dockerd.js';
import { loadImage, randomLayer } from '../support/fixtures.js';
import { importBusyboxPodman, runPodmanContainer, startPodman, type TestPodman } from '../support/podman.js';

const OLD = '2020-01-01T00:00:00Z';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StepRecord {
  type: string;
  imageId: string;
  ref?: string;
  containerId?: string;
  outcome: string;
  reason: string;
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

describe.skipIf(engineTestsSkipped())('imgsweep against a real Podman service', () => {
  let p: TestPodman;
  let engine: Engine;
  let dir: string;
  let stateDir: string;
  let counter = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-podman-'));
    stateDir = join(dir, 'state');
    // No podman, or a service that does not come up, fails here with the reason: never a silent skip.
    p = await startPodman();
    engine = await connectEngine({ host: p.host, env: {} });
  });

  afterAll(async () => {
    engine?.close();
    try {
      await p?.stop();
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  // --- helpers ---------------------------------------------------------------------------------------------

  const imgsweep = (args: string[]): Promise<CliResult> => runCli(args, { env: {} });
  const common = () => ['--host', p.host, '--state-dir', stateDir];

  async function writePolicy(yaml: string): Promise<string> {
    const path = join(dir, `policy-${++counter}.yaml`);
    await writeFile(path, yaml);
    return path;
  }

  const simplePolicy = (match: string, extra = '') =>
    writePolicy(`version: 1\nname: podman\n${extra}rules:\n  - name: sel\n    match: ${match}\n`);

  async function planFor(policy: string): Promise<{ plan: Plan; file: string }> {
    const file = join(dir, `plan-${++counter}.json`);
    const r = await imgsweep(['plan', '-p', policy, '-o', file, ...common(), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    return { plan: JSON.parse(await readFile(file, 'utf8')) as Plan, file };
  }

  /** Applies a policy or a saved plan with --json-lines: exit code, step records, the summary record. */
  async function applyJson(
    target: string[],
  ): Promise<{ code: number; steps: StepRecord[]; summary: Record<string, unknown>; stderr: string }> {
    const r = await imgsweep(['apply', ...target, ...common(), '--yes', '--json-lines']);
    const records = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = (records.find((x) => 'summary' in x)?.summary ?? {}) as Record<string, unknown>;
    return {
      code: r.code,
      steps: records.filter((x) => 'type' in x) as unknown as StepRecord[],
      summary,
      stderr: r.stderr,
    };
  }

  async function imageIds(): Promise<Set<string>> {
    return new Set((await p.docker.listImages({ all: true })).map((i) => i.Id));
  }

  /** The image's tags (sorted), or null when it is gone. */
  async function tagsOf(id: string): Promise<string[] | null> {
    try {
      return [...((await p.docker.getImage(id).inspect()).RepoTags ?? [])].sort();
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  const difference = <T>(a: Set<T>, b: Set<T>): Set<T> => new Set([...a].filter((x) => !b.has(x)));
  const deletesOf = (plan: Plan) => plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);

  // --- the engine ----------------------------------------------------------------------------------------------

  it('detects Podman; its engine key is stable across connections although /info answers a new ID each call', async () => {
    const identity = await engine.identity();
    expect(identity).toMatchObject({
      kind: 'podman',
      id: '',
      apiVersion: '1.41',
      rootDir: join(p.dir, 'root'),
      driver: 'vfs',
      host: p.host,
    });
    expect(identity.key).toMatch(/^[0-9a-f]{16}$/);
    // The quirk that makes /info's ID useless as an identity on Podman.
    const [a, b] = [await p.docker.info(), await p.docker.info()];
    expect((a as { ID: string }).ID).not.toBe((b as { ID: string }).ID);

    const again = await connectEngine({ host: p.host, env: {} });
    expect((await again.identity()).key).toBe(identity.key);
    again.close();

    // Two inventories, two plans: the same key, so the usage record and the lock are the same.
    const inv1 = await imgsweep(['inventory', '--format', 'json', ...common()]);
    const inv2 = await imgsweep(['inventory', '--format', 'json', ...common()]);
    expect(inv1.code, inv1.stderr).toBe(0);
    expect((JSON.parse(inv1.stdout) as Inventory).engine.key).toBe(identity.key);
    expect((JSON.parse(inv2.stdout) as Inventory).engine.key).toBe(identity.key);
  });

  it('keys two Podman services on one host apart', async () => {
    const other = await startPodman();
    try {
      const second = await connectEngine({ host: other.host, env: {} });
      const key = (await second.identity()).key;
      second.close();
      expect(key).not.toBe((await engine.identity()).key);
    } finally {
      await other.stop();
    }
  });

  it('reads container events although Podman answers nothing for an `until` already past', async () => {
    const since = new Date(Date.now() - 2_000);
    const image = await importBusyboxPodman(p.docker, 'p0-events/app:1');
    const container = await runPodmanContainer(p.docker, image, { running: false });
    await sleep(1_100);
    const now = new Date();
    const events = await engine.events(since, now);
    const mine = events.filter((e) => e.containerId === container).map((e) => e.action);
    expect(mine).toEqual(expect.arrayContaining(['create', 'start']));
    for (const e of events) expect(Date.parse(e.time)).toBeLessThanOrEqual(now.getTime());
    await p.docker.getContainer(container).remove();
    await p.docker.getImage(image).remove();
  });

  it("reads Podman's /system/df as unknown (it answers zeros) and never its SharedSize", async () => {
    expect(await engine.diskUsage()).toBeNull();
    for (const image of await engine.listImages()) expect(image.sharedSize).toBeNull();
  });

  // --- inventory, plan and explain with Podman's names ----------------------------------------------------------------

  describe("Podman's names", () => {
    let nginx: string;
    let app: string;
    let dangling: string;

    beforeAll(async () => {
      // What a pull of nginx:1 would be named, and a local build's "app" (Podman names it localhost/app).
      nginx = await loadImage(p.docker, {
        tags: ['docker.io/library/nginx:1', 'docker.io/library/nginx:1.25'],
        created: OLD,
      });
      app = await loadImage(p.docker, { tags: ['app:1', 'app:2'], created: OLD });
      dangling = await loadImage(p.docker, { created: OLD });
    });

    it('inventory lists loaded images with full sha256: IDs, qualified names and digests', async () => {
      const r = await imgsweep(['inventory', '--format', 'json', ...common()]);
      expect(r.code, r.stderr).toBe(0);
      const inv = JSON.parse(r.stdout) as Inventory;
      expect(inv.engine.kind).toBe('podman');
      const byId = new Map(inv.images.map((i) => [i.id, i]));
      for (const id of [nginx, app, dangling]) expect(byId.has(id), id).toBe(true);
      for (const i of inv.images) expect(i.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect([...byId.get(nginx)!.repoTags].sort()).toEqual([
        'docker.io/library/nginx:1',
        'docker.io/library/nginx:1.25',
      ]);
      expect([...byId.get(app)!.repoTags].sort()).toEqual(['localhost/app:1', 'localhost/app:2']);
      // Podman lists a digest for every tagged repository, even for images never pushed or pulled.
      expect(byId.get(app)!.repoDigests).toEqual([expect.stringMatching(/^localhost\/app@sha256:[0-9a-f]{64}$/)]);
      expect(byId.get(dangling)!).toMatchObject({ repoTags: [], repoDigests: [] });

      const text = await imgsweep(['inventory', ...common()]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/podman 4\.\d+\.\d+/);
      expect(text.stdout).toContain('localhost/app:1');
      expect(text.stdout).toContain(app.slice(7, 19));
    });

    it('plans with a policy written for Docker names: nginx:1 matches docker.io/library/nginx:1, app matches localhost/app', async () => {
      const policy = await writePolicy(
        [
          'version: 1',
          'name: docker-names',
          'protect:',
          '  references: ["app:2"]',
          'rules:',
          '  - name: nginx',
          '    match: { references: ["nginx:1"] }',
          '  - name: app',
          '    match: { repositories: ["app"] }',
          '',
        ].join('\n'),
      );
      const { plan } = await planFor(policy);
      expect(plan.engine).toMatchObject({ kind: 'podman', key: (await engine.identity()).key, id: '' });
      // nginx:1 is selected, nginx:1.25 is not: the image stays, only the one reference goes.
      expect(plan.actions).toContainEqual(
        expect.objectContaining({ type: 'untag', imageId: nginx, ref: 'docker.io/library/nginx:1', rule: 'nginx' }),
      );
      // app:2 is protected by reference, so localhost/app:1 is untagged and the image stays.
      expect(plan.actions).toContainEqual(
        expect.objectContaining({ type: 'untag', imageId: app, ref: 'localhost/app:1', rule: 'app' }),
      );
      expect(deletesOf(plan)).toEqual([]);
      expect(plan.actions).toHaveLength(2);

      const all = await simplePolicy('{ repositories: ["nginx", "app"] }');
      const second = await planFor(all);
      expect(new Set(deletesOf(second.plan))).toEqual(new Set([nginx, app]));
    });

    it('explains a reference given in Docker form or as Podman lists it', async () => {
      const policy = await simplePolicy('{ repositories: ["app", "nginx"] }');
      const byDockerName = await imgsweep(['explain', 'nginx:1', '-p', policy, ...common()]);
      expect(byDockerName.code, byDockerName.stderr).toBe(0);
      expect(byDockerName.stdout).toContain(nginx);
      expect(byDockerName.stdout).toMatch(/verdict: DELETED by rule sel/);
      const byPodmanName = await imgsweep(['explain', 'localhost/app:1', '-p', policy, ...common()]);
      expect(byPodmanName.code, byPodmanName.stderr).toBe(0);
      expect(byPodmanName.stdout).toContain(app);
      expect(byPodmanName.stdout).toMatch(/verdict: DELETED by rule sel/);
      const byId = await imgsweep(['explain', app.slice(7, 19), '-p', policy, ...common()]);
      expect(byId.code, byId.stderr).toBe(0);
      expect(byId.stdout).toContain(app);
    });
  });

  // --- apply ----------------------------------------------------------------------------------------------------

  it('deletes an image with two tags by untagging one and deleting by full ID (a plain delete by ID is a conflict)', async () => {
    const id = await loadImage(p.docker, { tags: ['p1/app:1', 'p1/app:2'], created: OLD });
    // The hazard: Podman refuses a delete by ID of an image with several tags, with a 500 (Docker: 409) ...
    const refused = await p.docker
      .getImage(id)
      .remove()
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(statusCode(refused)).toBe(500);
    expect(String((refused as { json?: { message?: string } }).json?.message)).toMatch(/more than one tag/);
    // ... which imgsweep reads as "changed under us", never as a failure to escalate.
    expect(await engine.deleteImage(id)).toMatchObject({
      status: 'conflict',
      message: expect.stringMatching(/more than one tag/),
    });
    expect(await tagsOf(id)).toEqual(['localhost/p1/app:1', 'localhost/p1/app:2']);

    const before = await imageIds();
    const policy = await simplePolicy('{ repositories: ["p1/app"] }');
    const r = await imgsweep(['apply', '-p', policy, ...common(), '--yes']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await tagsOf(id)).toBeNull();
    expect(difference(before, await imageIds())).toEqual(new Set([id]));
    const out = r.stdout.split('\n');
    const untag = out.findIndex((l) => /^done\s+untag localhost\/p1\/app:[12] /.test(l));
    const del = out.findIndex((l) => new RegExp(`^done\\s+delete ${id.slice(7, 19)}`).test(l));
    expect(untag, r.stdout).toBeGreaterThanOrEqual(0);
    expect(del, r.stdout).toBeGreaterThan(untag);
    expect(r.stdout).toMatch(/deleted 1 image.*untagged 1 reference.*0 skipped, 0 failed/);
  });

  it('loses no untag when several tags of one image are removed at once (Podman writes names back from a stale copy)', async () => {
    // Straight through the engine: four untags in flight, one image.
    const tags = ['p1-many/a:1', 'p1-many/a:2', 'p1-many/b:1', 'p1-many/c:1'].map((t) => `localhost/${t}`);
    const direct = await loadImage(p.docker, { tags: [...tags, 'p1-many/keep:1'], created: OLD });
    const outcomes = await Promise.all(tags.map((t) => engine.untag(t)));
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(await tagsOf(direct)).toEqual(['localhost/p1-many/keep:1']);

    // And through apply, whose untags run --concurrency 4 at a time.
    const id = await loadImage(p.docker, {
      tags: [
        'p1-apply/a:1',
        'p1-apply/a:2',
        'p1-apply/b:1',
        'ghcr.io/p1-apply/c:1',
        'docker.io/p1-apply/d:1',
        'p1-apply/e:1',
      ],
      created: OLD,
    });
    const before = await imageIds();
    const r = await applyJson([
      '-p',
      await simplePolicy('{ repositories: ["p1-apply/**", "ghcr.io/p1-apply/**"] }'),
      '--concurrency',
      '4',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.map((s) => `${s.type} ${s.outcome}`).sort(), JSON.stringify(r.steps)).toEqual([
      'delete done',
      ...Array.from({ length: 5 }, () => 'untag done'),
    ]);
    expect(difference(before, await imageIds())).toEqual(new Set([id]));
  });

  // Containers, moved tags and images deleted meanwhile: apply-podman.test.ts and apply-safety-podman.test.ts.

  it('estimates by layers (Podman reports no sharing): a shared base counts only with its last user', async () => {
    const base = randomLayer(256 * 1024);
    const ownOf = (bytes: number) => randomLayer(bytes);
    const a = await loadImage(p.docker, { tags: ['p7/a:1'], created: OLD, layers: [base, ownOf(64 * 1024)] });
    const b = await loadImage(p.docker, { tags: ['p7/b:1'], created: OLD, layers: [base, ownOf(128 * 1024)] });
    const size = async (id: string) =>
      ((await p.docker.getImage(id).history()) as { Size: number }[]).map((h) => h.Size);
    const [aTop, aBase] = await size(a);
    const [bTop] = await size(b);
    expect(aBase!).toBeGreaterThanOrEqual(256 * 1024);
    const one = await planFor(await simplePolicy('{ repositories: ["p7/a"] }'));
    expect(one.plan.summary).toMatchObject({ estimate: 'layers', bytes: aTop });
    const both = await planFor(await simplePolicy('{ repositories: ["p7/**"] }'));
    expect(both.plan.summary).toMatchObject({ estimate: 'layers', bytes: aTop! + bTop! + aBase! });
  });

  it('removes exactly what the plan lists from a mixed engine, and a rerun finds nothing to do', async () => {
    const gone = [
      await loadImage(p.docker, { tags: ['p6/app:1', 'p6/app:2', 'ghcr.io/p6/app:1'], created: OLD }),
      await loadImage(p.docker, { tags: ['docker.io/p6/lib:1'], created: OLD }),
      await loadImage(p.docker, { created: OLD, labels: { 'p6.dangling': 'yes' } }),
    ];
    const kept = await loadImage(p.docker, { tags: ['p6/keep:1'], created: OLD });
    const policy = await writePolicy(
      [
        'version: 1',
        'name: p6',
        'protect:',
        '  repositories: ["p6/keep"]',
        'rules:',
        '  - name: p6',
        '    match: { repositories: ["p6/**", "ghcr.io/p6/**"] }',
        '  - name: dangling',
        '    match: { untagged: true, labels: ["p6.dangling=yes"] }',
        '',
      ].join('\n'),
    );
    const { plan, file } = await planFor(policy);
    expect(new Set(deletesOf(plan))).toEqual(new Set(gone));
    const before = await imageIds();
    const r = await applyJson([file]);
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.steps.filter((s) => s.outcome !== 'done'),
      JSON.stringify(r.steps),
    ).toEqual([]);
    expect(difference(before, await imageIds())).toEqual(new Set(gone));
    expect(await tagsOf(kept)).toEqual(['localhost/p6/keep:1']);

    const rerun = await imgsweep(['apply', '-p', policy, ...common(), '--yes']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/Nothing to do/);
  });
});
