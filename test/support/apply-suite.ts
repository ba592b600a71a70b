/**
 * `imgsweep apply` against a real engine: each execution rule is reproduced on the engine, and the
 * engine's state is checked directly (through dockerode or the docker CLI) afterwards. The suite runs on dockerd
 * (test/integration/apply.test.ts) and on a Podman service (its Docker-compatible API; apply-podman.test.ts), each
 * file in a worker and with engines of its own: the same tests, with names compared in Docker's short form and IDs
 * with their "sha256:" prefix. No test is Docker-only: Podman's compatible build also
 * commits one image per step with parent links (what the chain tests need), and its compatible push reaches the
 * plain-HTTP test registry when asked with tlsVerify=false (its pull, which cannot be, goes through its own CLI).
 * The hazards where the engine changes between plan and apply live in apply-safety-suite.ts.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { runCli, type CliResult } from './cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from './dockerd.js';
import {
  buildChild,
  imagesArchive,
  importBusybox,
  loadImage,
  loadImages,
  pullImage,
  pushImage,
  runContainer,
  splitTag,
  startRegistry,
  type LoadImageOptions,
  type TestRegistry,
} from './fixtures.js';
import { importBusyboxPodman, runPodmanContainer, startPodman, type TestPodman } from './podman.js';
import { runCommand } from './process.js';
import { drainProgress } from './progress.js';

const OLD = '2020-01-01T00:00:00Z';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

const fullId = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** One engine of the matrix: how to start it and what differs in driving it. */
interface EngineKind {
  name: 'docker' | 'podman';
  start(): Promise<TestEngine>;
  busybox(docker: Docker, ref: string): Promise<string>;
  run(docker: Docker, image: string, opts: { running: boolean }): Promise<string>;
  /** A name as Docker shows it: Podman qualifies short names (localhost/app:1, docker.io/x/y:1, docker.io/library/x:1). */
  familiar: (ref: string) => string;
  /** How the engine refuses to delete by ID an image with several tags. */
  severalTags: { status: number; message: RegExp };
  /** The event action of a removed container. */
  containerRemoved: string;
  /** Whether the engine lists a digest for every tagged repository, even of an image never pushed nor pulled. */
  digestPerRepository: boolean;
  /** Whether imgsweep can tell the bytes an apply freed (Podman's /system/df answers zeros: it is not asked). */
  reclaimKnown: boolean;
  /** Pushes `ref` to the test registry; returns the digest reference ("repo@sha256:…") the registry stored. */
  push(engine: TestEngine, ref: string): Promise<string>;
  /** Pulls `ref` from the test registry; returns the image's ID. */
  pull(engine: TestEngine, ref: string): Promise<string>;
}

/** dockerd trusts registries on 127.0.0.0/8 over plain HTTP; the push gives the image the registry's digest. */
async function pushDocker(engine: TestEngine, ref: string): Promise<string> {
  await pushImage(engine.docker, ref);
  const repo = splitTag(ref).repo;
  const digest = ((await engine.docker.getImage(ref).inspect()).RepoDigests ?? []).find((d) =>
    d.startsWith(`${repo}@sha256:`),
  );
  if (digest === undefined) throw new Error(`docker push ${ref} gave the image no digest of ${repo}`);
  return digest;
}

/**
 * Podman's compatible push speaks plain HTTP only when asked with tlsVerify=false. It does not record the
 * registry's digest on the image (which keeps listing its own manifest's): the digest is read from the push's output.
 */
async function pushPodman(engine: TestEngine, ref: string): Promise<string> {
  const { repo, tag } = splitTag(ref);
  const query: Docker.ImagePushOptions & { tlsVerify: boolean } = { tag, tlsVerify: false };
  const lines = await drainProgress(await engine.docker.getImage(repo).push(query), `podman push ${ref}`);
  const digest = lines
    .map((l) => /digest: (sha256:[0-9a-f]{64})/.exec(typeof l.status === 'string' ? l.status : '')?.[1])
    .find((d) => d !== undefined);
  if (digest === undefined) throw new Error(`podman push ${ref} reported no digest:\n${JSON.stringify(lines)}`);
  return `${repo}@${digest}`;
}

/** Podman's compatible pull (POST /images/create) has no tlsVerify: its own CLI pulls into the service's storage. */
async function pullPodman(engine: TestEngine, ref: string): Promise<string> {
  const r = await (engine as TestPodman).podman(['pull', '--quiet', '--tls-verify=false', ref]);
  if (r.code !== 0) throw new Error(`podman pull ${ref} failed: ${r.stderr}`);
  return fullId(r.stdout.trim());
}

const ENGINES: EngineKind[] = [
  {
    name: 'docker',
    start: startDockerd,
    busybox: importBusybox,
    run: runContainer,
    familiar: (r) => r,
    severalTags: { status: 409, message: /referenced in multiple repositories/ },
    containerRemoved: 'destroy',
    digestPerRepository: false,
    reclaimKnown: true,
    push: pushDocker,
    pull: (engine, ref) => pullImage(engine.docker, ref),
  },
  {
    name: 'podman',
    start: startPodman,
    busybox: importBusyboxPodman,
    run: runPodmanContainer,
    // Loaded images are named localhost/…, names given through the API docker.io/…: both are "app:1" to Docker.
    familiar: (r) => r.replace(/^localhost\//, '').replace(/^docker\.io\/(library\/)?/, ''),
    severalTags: { status: 500, message: /more than one tag/ },
    containerRemoved: 'remove',
    digestPerRepository: true,
    reclaimKnown: false,
    push: pushPodman,
    pull: pullPodman,
  },
];

/** apply --json's document, as far as these tests read it. */
interface ApplyDocument {
  kind: string;
  ok: boolean;
  exitCode: number;
  summary: Record<string, unknown>;
  errors: string[];
  engines: {
    exitCode: number;
    error: string | null;
    startedAt: string | null;
    finishedAt: string | null;
    steps: { type: string; imageId: string; outcome: string }[];
  }[];
}

/** Registers the suite on one engine kind: each test file runs one (its own worker, its own engine). */
export function applySuite(name: EngineKind['name']): void {
  const E = ENGINES.find((e) => e.name === name)!;
  describe.skipIf(engineTestsSkipped())('imgsweep apply on a real engine', () => {
    describe(`on '${name}'`, () => engineSuite(E));
  });
}

function engineSuite(E: EngineKind): void {
  let t: TestEngine;
  let dir: string;
  let stateDir: string;
  let busybox: string;
  let counter = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-apply-'));
    stateDir = join(dir, 'state');
    // No engine, or one that does not come up, fails here with the reason: never a silent skip.
    t = await E.start();
    busybox = await E.busybox(t.docker, 'isw-base/busybox:1');
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // --- helpers ---------------------------------------------------------------------------------------------

  const imgsweep = (args: string[]): Promise<CliResult> => runCli(args, { env: {} });

  async function writePolicy(yaml: string): Promise<string> {
    const path = join(dir, `policy-${++counter}.yaml`);
    await writeFile(path, yaml);
    return path;
  }

  const applyPolicy = (policy: string, extra: string[] = [], engine: TestEngine = t) =>
    imgsweep(['apply', '-p', policy, '--host', engine.host, '--state-dir', stateDir, '--yes', ...extra]);

  async function planFor(policy: string, engine: TestEngine = t): Promise<{ plan: Plan; file: string }> {
    const file = join(dir, `plan-${++counter}.json`);
    const r = await imgsweep([
      'plan',
      '-p',
      policy,
      '-o',
      file,
      '--host',
      engine.host,
      '--state-dir',
      stateDir,
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    return { plan: JSON.parse(await readFile(file, 'utf8')) as Plan, file };
  }

  async function imageIds(docker: Docker = t.docker): Promise<Set<string>> {
    return new Set((await docker.listImages({ all: true })).map((i) => fullId(i.Id)));
  }

  /** `docker images -a -q --no-trunc`, as a set. */
  async function cliImageIds(engine: TestEngine = t): Promise<Set<string>> {
    const r = await engine.cli(['images', '-a', '-q', '--no-trunc']);
    expect(r.code, r.stderr).toBe(0);
    return new Set(
      r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map(fullId),
    );
  }

  /** The image's tags and digests in Docker's short form (sorted), or null when it is gone. */
  async function refsOf(id: string, docker: Docker = t.docker): Promise<{ tags: string[]; digests: string[] } | null> {
    try {
      const i = await docker.getImage(id).inspect();
      return { tags: (i.RepoTags ?? []).map(E.familiar).sort(), digests: (i.RepoDigests ?? []).map(E.familiar).sort() };
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  /** The digests an image with these tags lists when it was never pushed nor pulled: on Podman one per repository. */
  function unpushedDigests(tags: string[]): unknown[] {
    if (!E.digestPerRepository) return [];
    const repos = [...new Set(tags.map((tag) => `${splitTag(tag).repo}@`))].sort();
    return repos.map((repo): unknown =>
      expect.stringMatching(new RegExp(`^${escapeRegExp(repo)}sha256:[0-9a-f]{64}$`)),
    );
  }

  /** What refsOf answers for an image with these tags and no registry digest. */
  const unpushed = (tags: string[]) => ({ tags, digests: unpushedDigests(tags) });

  /**
   * buildChild with full IDs. Podman (whose compatible build commits one image per step too, with parent links)
   * answers Parent without "sha256:", so buildChild's walk passes the base image: it is cut off here.
   */
  async function build(
    engine: TestEngine,
    opts: { from: string; tag: string; steps: string[] },
  ): Promise<{ id: string; intermediates: string[] }> {
    const built = await buildChild(engine, opts);
    const base = fullId((await engine.docker.getImage(opts.from).inspect()).Id);
    const walked = built.intermediates.map(fullId);
    const cut = walked.indexOf(base);
    return { id: fullId(built.id), intermediates: cut < 0 ? walked : walked.slice(0, cut) };
  }

  async function containerIds(docker: Docker = t.docker): Promise<Set<string>> {
    return new Set((await docker.listContainers({ all: true })).map((c) => c.Id));
  }

  interface EngineEvent {
    Type: string;
    Action: string;
    Actor: { ID: string };
    timeNano: number;
  }

  /** The engine's events from `sinceMs` until now. */
  async function engineEvents(docker: Docker, sinceMs: number): Promise<EngineEvent[]> {
    // Until a second ahead (the call waits for it): Podman answers nothing for an `until` already past.
    const stream = await docker.getEvents({
      since: Math.floor(sinceMs / 1000) - 1,
      until: Math.ceil(Date.now() / 1000) + 1,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as EngineEvent);
  }

  const difference = <T>(a: Set<T>, b: Set<T>): Set<T> => new Set([...a].filter((x) => !b.has(x)));
  const deletesOf = (plan: Plan) => plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
  const lines = (text: string) => text.split('\n').filter(Boolean);

  // --- 1. several references: untag, then delete by ID ---------------------------------------------------------

  it('deletes an image with two tags by untagging one and deleting by full ID (a plain delete by ID is refused)', async () => {
    const id = await loadImage(t.docker, { tags: ['alpine:950', 'alpine:latest'], created: OLD });
    // The hazard: the engine refuses a delete by ID of an image with several references.
    const refused = await t.docker
      .getImage(id)
      .remove()
      .then(
        () => null,
        (err: unknown) => err,
      );
    // Docker answers 409; Podman 500 "more than one tag", which imgsweep reads as a conflict too.
    expect(statusCode(refused)).toBe(E.severalTags.status);
    expect(String((refused as { json?: { message?: string } }).json?.message ?? refused)).toMatch(
      E.severalTags.message,
    );
    expect(await refsOf(id)).toEqual(unpushed(['alpine:950', 'alpine:latest']));
    // The names as the engine spells them, which the report prints.
    const names = ((await t.docker.getImage(id).inspect()).RepoTags ?? []).map(escapeRegExp);
    expect(names).toHaveLength(2);

    const policy = await writePolicy(
      'version: 1\nname: alpine\nrules:\n  - name: alpine\n    match: { repositories: ["alpine"] }\n',
    );
    const before = await imageIds();
    const r = await applyPolicy(policy);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await refsOf(id)).toBeNull();
    expect(difference(before, await imageIds())).toEqual(new Set([id]));
    const out = lines(r.stdout);
    const untag = out.filter((l) => new RegExp(`^done\\s+untag (${names.join('|')}) `).test(l));
    const del = out.filter((l) => new RegExp(`^done\\s+delete ${id.slice(7, 19)}`).test(l));
    expect(untag).toHaveLength(1);
    expect(del).toHaveLength(1);
    expect(out.indexOf(untag[0]!)).toBeLessThan(out.indexOf(del[0]!));
    expect(out.filter((l) => /^(skipped|failed)\b/.test(l))).toEqual([]);
    expect(r.stdout).toMatch(/Applied on .*deleted 1 image.*untagged 1 reference.*0 skipped, 0 failed/);
  });

  // --- 2. containers ----------------------------------------------------------------------------------------------

  describe('images used by containers', () => {
    it('keeps an image a stopped container uses with the default containers.stopped: protect', async () => {
      const id = await E.busybox(t.docker, 't2-protect/app:1');
      const container = await E.run(t.docker, id, { running: false });
      await sleep(1_100);
      const policy = await writePolicy(
        'version: 1\nname: t2\nrules:\n  - name: app\n    match: { repositories: ["t2-protect/**"] }\n',
      );
      const { plan } = await planFor(policy);
      expect(plan.actions).toEqual([]);
      expect(plan.kept.find((k) => k.imageId === id)?.reason).toBe('in-use-stopped');
      const before = await imageIds();
      const r = await applyPolicy(policy);
      expect(r.code, r.stderr).toBe(0);
      expect(await refsOf(id)).toEqual(unpushed(['t2-protect/app:1']));
      expect(await imageIds()).toEqual(before);
      expect((await containerIds()).has(container)).toBe(true);
    });

    it('with stopped: remove and stoppedFor: 1s removes the stopped container first, then the image', async () => {
      const id = await E.busybox(t.docker, 't2-remove/app:1');
      await t.docker.getImage(id).tag({ repo: 't2-remove/app', tag: '2' });
      const container = await E.run(t.docker, id, { running: false });
      const other = await E.run(t.docker, busybox, { running: false }); // not ours: stays
      await sleep(1_500);
      const policy = await writePolicy(
        'version: 1\nname: t2\ncontainers: { stopped: remove, stoppedFor: 1s }\nrules:\n  - name: app\n    match: { repositories: ["t2-remove/**"] }\n',
      );
      const before = await imageIds();
      const started = Date.now();
      const r = await applyPolicy(policy, ['--json-lines']);
      expect(r.code, r.stderr).toBe(0);
      const records = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
      const steps = records.filter((x) => 'type' in x);
      expect(steps.map((s) => [s.type, s.outcome]).sort()).toEqual([
        ['delete', 'done'],
        ['remove-container', 'done'],
        ['untag', 'done'],
      ]);
      const removal = steps.findIndex((s) => s.type === 'remove-container');
      const del = steps.findIndex((s) => s.type === 'delete');
      expect(steps[removal]).toMatchObject({ containerId: container, imageId: id });
      // Steps are reported as they finish: the container was gone before the image's delete finished
      // (the engine refuses to delete an image under a stopped container without force).
      expect(removal).toBeLessThan(del);
      // And on the engine: the container was removed before the image was deleted. Docker says "destroy" for a
      // removed container and "delete" once, for the image's deletion; Podman says "remove", and "delete" for
      // every removal by name, untags included: the image's deletion is its last.
      const events = await engineEvents(t.docker, started);
      const destroyed = events.find(
        (e) => e.Type === 'container' && e.Action === E.containerRemoved && e.Actor.ID === container,
      );
      const deletes = events
        .filter((e) => e.Type === 'image' && e.Action === 'delete' && fullId(e.Actor.ID) === id)
        .map((e) => e.timeNano);
      expect(destroyed, JSON.stringify(events)).toBeDefined();
      expect(deletes.length, JSON.stringify(events)).toBeGreaterThan(0);
      expect(destroyed!.timeNano).toBeLessThanOrEqual(Math.max(...deletes));
      const containers = await containerIds();
      expect(containers.has(container)).toBe(false);
      expect(containers.has(other)).toBe(true);
      expect(await refsOf(id)).toBeNull();
      expect(difference(before, await imageIds())).toEqual(new Set([id]));
    });

    it('with a large stoppedFor touches nothing', async () => {
      const id = await E.busybox(t.docker, 't2-long/app:1');
      const container = await E.run(t.docker, id, { running: false });
      await sleep(1_100);
      const policy = await writePolicy(
        'version: 1\nname: t2\ncontainers: { stopped: remove, stoppedFor: 52w }\nrules:\n  - name: app\n    match: { repositories: ["t2-long/**"] }\n',
      );
      const before = { images: await imageIds(), containers: await containerIds() };
      const r = await applyPolicy(policy);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Nothing to do/);
      expect(await refsOf(id)).toEqual(unpushed(['t2-long/app:1']));
      expect(await imageIds()).toEqual(before.images);
      expect(await containerIds()).toEqual(before.containers);
      expect((await containerIds()).has(container)).toBe(true);
    });

    it('never touches the image of a running container, even with stopped: remove and a policy selecting everything', async () => {
      // A policy that selects every image would empty the shared engine: this one runs on its own.
      const solo = await E.start();
      try {
        const d = solo.docker;
        const id = await E.busybox(d, 't2-running/app:1');
        await d.getImage(id).tag({ repo: 't2-running/app', tag: '2' });
        await d.getImage(id).tag({ repo: 't2-running/other', tag: 'x' });
        const running = await E.run(d, id, { running: true });
        const stopped = await E.run(d, id, { running: false });
        // Control: an unused image and a stopped container's image, which the same policy does remove.
        const unused = await loadImage(d, { tags: ['t2-unused/app:1', 't2-unused/app:2'], created: OLD });
        const other = await E.busybox(d, 't2-other/app:1');
        const otherContainer = await E.run(d, other, { running: false });
        await sleep(1_500);
        const policy = await writePolicy(
          [
            'version: 1',
            'name: everything',
            'containers: { stopped: remove, stoppedFor: 1s }',
            'rules:',
            '  - name: everything',
            '    match: { repositories: ["**"] }',
            '  - name: untagged',
            '    match: { untagged: true }',
          ].join('\n') + '\n',
        );
        const { plan } = await planFor(policy, solo);
        expect(plan.actions.filter((a) => a.imageId === id)).toEqual([]);
        const r = await applyPolicy(policy, ['--concurrency', '8'], solo);
        expect(r.code, r.stderr + r.stdout).toBe(0);
        expect(await refsOf(id, d)).toEqual(unpushed(['t2-running/app:1', 't2-running/app:2', 't2-running/other:x']));
        expect((await d.getContainer(running).inspect()).State.Running).toBe(true);
        expect((await containerIds(d)).has(stopped)).toBe(true);
        expect(await imageIds(d)).toEqual(new Set([id]));
        expect(await refsOf(unused, d)).toBeNull();
        expect(await refsOf(other, d)).toBeNull();
        expect((await containerIds(d)).has(otherContainer)).toBe(false);
      } finally {
        await solo.stop();
      }
    });
  });

  // --- 5. parent/child chains ----------------------------------------------------------------------------------------

  describe('parent/child chains from a step-by-step build (legacy builder; buildah on Podman)', () => {
    it('deletes children before parents: with the whole chain selected, the whole chain goes', async () => {
      const base = await E.busybox(t.docker, 't5-all/base:1');
      const child = await build(t, {
        from: 't5-all/base:1',
        tag: 't5-all/child:1',
        steps: ['LABEL isw.t5=all', 'LABEL isw.t5.step=child'],
      });
      const grandchild = await build(t, {
        from: 't5-all/child:1',
        tag: 't5-all/grandchild:1',
        steps: ['LABEL isw.t5.step=gc1', 'LABEL isw.t5.step=gc2'],
      });
      expect(child.intermediates.length).toBe(1);
      expect(grandchild.intermediates.length).toBe(1);
      const chain = [grandchild.id, ...grandchild.intermediates, child.id, ...child.intermediates, base];
      const policy = await writePolicy(
        [
          'version: 1',
          'name: chain',
          'rules:',
          '  - name: tagged',
          '    match: { repositories: ["t5-all/**"] }',
          '  - name: intermediates',
          '    match: { untagged: true, labels: ["isw.t5=all"] }',
        ].join('\n') + '\n',
      );
      const { plan, file } = await planFor(policy);
      expect(new Set(deletesOf(plan))).toEqual(new Set(chain));
      const before = await cliImageIds();
      const r = await imgsweep([
        'apply',
        file,
        '--host',
        t.host,
        '--state-dir',
        stateDir,
        '--yes',
        '--json-lines',
        '--concurrency',
        '8',
      ]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const steps = lines(r.stdout)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((x) => 'type' in x);
      expect(steps.filter((s) => s.outcome !== 'done')).toEqual([]);
      // Completion order (the JSON lines are written as steps finish): every child's delete before its parent's.
      const doneOrder = steps.filter((s) => s.type === 'delete').map((s) => s.imageId as string);
      for (let i = 0; i + 1 < chain.length; i++)
        expect(doneOrder.indexOf(chain[i]!)).toBeLessThan(doneOrder.indexOf(chain[i + 1]!));
      const after = await cliImageIds();
      expect(difference(before, after)).toEqual(new Set(chain));
      expect(after.has(busybox)).toBe(true);
    });

    it('keeps a parent that a kept child needs, and deletes nothing the plan does not name', async () => {
      await E.busybox(t.docker, 't5-kept/base:1');
      const mid = await build(t, {
        from: 't5-kept/base:1',
        tag: 't5-kept/mid:1',
        steps: ['LABEL isw.t5=kept', 'LABEL isw.t5.step=mid'],
      });
      const leaf = await build(t, {
        from: 't5-kept/mid:1',
        tag: 't5-keep-leaf/app:1',
        steps: ['LABEL isw.t5.step=leaf'],
      });
      const other = await build(t, {
        from: 't5-kept/mid:1',
        tag: 't5-kept/sibling:1',
        steps: ['LABEL isw.t5.step=sibling'],
      });
      const policy = await writePolicy(
        [
          'version: 1',
          'name: chain-kept',
          'rules:',
          '  - name: tagged',
          '    match: { repositories: ["t5-kept/**"] }',
          '  - name: intermediates',
          '    match: { untagged: true, labels: ["isw.t5=kept"] }',
        ].join('\n') + '\n',
      );
      const { plan, file } = await planFor(policy);
      // Only the sibling leaf can go: mid and its ancestors are parents of the kept leaf.
      expect(deletesOf(plan)).toEqual([other.id]);
      const keptMid = plan.kept.find((k) => k.imageId === mid.id);
      expect(keptMid?.reason).toBe('parent-of-kept');
      const before = await cliImageIds();
      const r = await imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const after = await cliImageIds();
      expect(difference(before, after)).toEqual(new Set(deletesOf(plan)));
      expect(after.has(mid.id)).toBe(true);
      for (const id of mid.intermediates) expect(after.has(id)).toBe(true);
      expect(await refsOf(mid.id)).toEqual(unpushed(['t5-kept/mid:1']));
      expect(await refsOf(leaf.id)).toEqual(unpushed(['t5-keep-leaf/app:1']));
    });

    it('keeps an untagged intermediate parent that the plan does not name (noprune)', async () => {
      await E.busybox(t.docker, 't5-noprune/base:1');
      const child = await build(t, {
        from: 't5-noprune/base:1',
        tag: 't5-noprune/child:1',
        steps: ['LABEL isw.t5=noprune', 'LABEL isw.t5.step=x'],
      });
      expect(child.intermediates).toHaveLength(1);
      const intermediate = child.intermediates[0]!;
      expect(await refsOf(intermediate)).toEqual({ tags: [], digests: [] });
      // Only the tagged child is selected; its untagged parent is not (no untagged rule).
      const policy = await writePolicy(
        'version: 1\nname: noprune\nrules:\n  - name: child\n    match: { references: ["t5-noprune/child:1"] }\n',
      );
      const { plan, file } = await planFor(policy);
      // Podman ignores noprune (deleting the child would remove the intermediate too): there the plan keeps the
      // child and says why; Docker deletes the child with noprune and the intermediate stays.
      const podman = E.name === 'podman';
      expect(deletesOf(plan)).toEqual(podman ? [] : [child.id]);
      if (podman)
        expect(plan.kept.find((k) => k.imageId === child.id)).toMatchObject({ reason: 'engine-prunes-parent' });
      const before = await cliImageIds();
      const r = await imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const after = await cliImageIds();
      expect(difference(before, after)).toEqual(new Set(podman ? [] : [child.id]));
      expect(after.has(intermediate)).toBe(true);
    });
  });

  // --- 6. digests -----------------------------------------------------------------------------------------------------

  describe('digest references from a local registry', () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      registry = await startRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
    });

    /**
     * Loads and pushes; returns the image ID, the digest reference the engine lists for it and the one the
     * registry stored (the same on Docker; Podman keeps listing its own manifest's digest).
     */
    async function pushed(
      ref: string,
      opts: LoadImageOptions = {},
    ): Promise<{ id: string; digest: string; stored: string }> {
      const id = await loadImage(t.docker, { tags: [ref], created: OLD, ...opts });
      const stored = await E.push(t, ref);
      const refs = await refsOf(id);
      const digest = refs!.digests.find((d) => d.startsWith(`${splitTag(ref).repo}@sha256:`));
      expect(digest, JSON.stringify(refs)).toBeDefined();
      if (!E.digestPerRepository) expect(digest).toBe(stored);
      return { id, digest: digest!, stored };
    }

    it('deletes a digest-only image with an untagged-only policy', async () => {
      const { id, stored: digest } = await pushed(`${registry.address}/t6/digest-only:1`);
      await t.docker.getImage(id).remove(); // one tag, one repository: the engine removes it
      expect(await refsOf(id)).toBeNull();
      expect(await E.pull(t, digest)).toBe(id);
      expect(await refsOf(id)).toEqual({ tags: [], digests: [digest] });
      const policy = await writePolicy(
        `version: 1\nname: digests\nrules:\n  - name: dangling\n    match: { untagged: true, repositories: ["${registry.address}/t6/digest-only"] }\n`,
      );
      const { plan, file } = await planFor(policy);
      expect(plan.actions).toEqual([expect.objectContaining({ type: 'delete', imageId: id, refs: [digest] })]);
      const before = await imageIds();
      const r = await imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^done\s+delete /m);
      expect(await refsOf(id)).toBeNull();
      expect(difference(before, await imageIds())).toEqual(new Set([id]));
    });

    it('deletes a tag+digest image selected by its tag, digest included', async () => {
      const ref = `${registry.address}/t6/tagged:sel`;
      const { id, digest } = await pushed(ref);
      expect(await refsOf(id)).toEqual({ tags: [ref], digests: [digest] });
      const policy = await writePolicy(
        `version: 1\nname: digests\nrules:\n  - name: sel\n    match: { repositories: ["${registry.address}/t6/tagged"], tags: ["sel"] }\n`,
      );
      const before = await imageIds();
      const r = await applyPolicy(policy);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^done\s+delete /m);
      expect(await refsOf(id)).toBeNull();
      expect(difference(before, await imageIds())).toEqual(new Set([id]));
    });

    it('deletes an image that keeps its tag after a pull by digest (Podman: the digest is then a name, untagged first)', async () => {
      const ref = `${registry.address}/t6/pulled:1`;
      const { id, stored } = await pushed(ref);
      expect(await E.pull(t, stored)).toBe(id);
      const policy = await writePolicy(
        `version: 1\nname: digests\nrules:\n  - name: all\n    match: { repositories: ["${registry.address}/t6/pulled"] }\n`,
      );
      const { plan, file } = await planFor(policy);
      // Podman lists the pulled digest among the image's names and refuses a delete by ID while it is there.
      const untags = plan.actions.filter((a) => a.type === 'untag').map((a) => a.ref);
      expect(untags).toEqual(E.name === 'podman' ? [stored] : []);
      const before = await imageIds();
      const r = await imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^done\s+delete /m);
      expect(r.stdout).not.toMatch(/^(skipped|failed) /m);
      expect(await refsOf(id)).toBeNull();
      expect(difference(before, await imageIds())).toEqual(new Set([id]));
    });

    it('keeps the digest with a tag of its repository that stays, when another tag is untagged', async () => {
      const ref = `${registry.address}/t6/partial:keep`;
      const { id, digest } = await pushed(ref);
      await t.docker.getImage(id).tag({ repo: `${registry.address}/t6/partial`, tag: 'sel' });
      const policy = await writePolicy(
        `version: 1\nname: digests\nrules:\n  - name: sel\n    match: { repositories: ["${registry.address}/t6/partial"], tags: ["sel"] }\n`,
      );
      const r = await applyPolicy(policy);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(await refsOf(id)).toEqual({ tags: [ref], digests: [digest] });
    });

    it('deletes an image with tags and digests in two repositories when all its tags are selected', async () => {
      const a = `${registry.address}/t6/two-a:1`;
      const b = `${registry.address}/t6/two-b:1`;
      const { id, digest: digestA } = await pushed(a);
      await t.docker.getImage(id).tag({ repo: `${registry.address}/t6/two-b`, tag: '1' });
      await E.push(t, b);
      const refs = await refsOf(id);
      expect(refs?.tags).toEqual([a, b]);
      expect(refs?.digests).toHaveLength(2);
      expect(refs?.digests).toContain(digestA);
      const policy = await writePolicy(
        `version: 1\nname: digests\nrules:\n  - name: both\n    match: { repositories: ["${registry.address}/t6/two-*"] }\n`,
      );
      const { plan, file } = await planFor(policy);
      expect(deletesOf(plan)).toEqual([id]);
      const before = await imageIds();
      const r = await imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout, 'every step done').not.toMatch(/^(skipped|failed)\b/m);
      expect(await refsOf(id)).toBeNull();
      expect(difference(before, await imageIds())).toEqual(new Set([id]));
    });
  });

  // --- 10. reports: --json, --audit-log, --metrics-file -----------------------------------------------------------------

  it('reports every step as JSON, in the audit log and in Prometheus metrics', async () => {
    const a = await loadImage(t.docker, { tags: ['t10/app:1', 't10/app:2'], created: OLD });
    const b = await loadImage(t.docker, { tags: ['t10/app:3'], created: OLD });
    const c = await loadImage(t.docker, { tags: ['t10/keep:1', 't10/app:4'], created: OLD });
    const policy = await writePolicy(
      'version: 1\nname: reports\nrules:\n  - name: app\n    match: { repositories: ["t10/app"] }\n',
    );
    const audit = join(dir, 'audit.jsonl');
    const metrics = join(dir, 'metrics.prom');
    const r = await applyPolicy(policy, ['--json-lines', '--audit-log', audit, '--metrics-file', metrics]);
    expect(r.code, r.stderr).toBe(0);
    expect(await refsOf(a)).toBeNull();
    expect(await refsOf(b)).toBeNull();
    expect(await refsOf(c)).toEqual(unpushed(['t10/keep:1']));

    const out = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = out.slice(0, -1);
    const summary = out.at(-1)!;
    expect(steps).toHaveLength(4); // untag t10/app:1 or :2, untag t10/app:4, delete a, delete b
    for (const s of steps) {
      expect(s).toMatchObject({
        type: expect.stringMatching(/^(untag|delete)$/),
        imageId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        outcome: 'done',
      });
    }
    expect(
      steps
        .filter((s) => s.type === 'delete')
        .map((s) => s.imageId)
        .sort(),
    ).toEqual([a, b].sort());
    expect(summary).toMatchObject({ summary: { steps: 4, done: 4, skipped: 0, failed: 0, deleted: 2, untagged: 2 } });

    const auditLines = lines(await readFile(audit, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(auditLines).toHaveLength(4);
    expect(auditLines.map((l) => [l.type, l.imageId, l.outcome]).sort()).toEqual(
      steps.map((s) => [s.type, s.imageId, s.outcome]).sort(),
    );

    const text = await readFile(metrics, 'utf8');
    // Podman's freed bytes are unknown (its /system/df answers zeros, so imgsweep does not ask it): that family is
    // declared with no sample, never a made-up 0. Docker's is sampled.
    const reclaimed = 'imgsweep_last_run_bytes_reclaimed';
    // The plan's own figures: this policy has no buildCache or disk section, so they have no sample.
    const planFigures = [
      'imgsweep_last_run_build_cache_bytes',
      'imgsweep_last_run_disk_image_bytes',
      'imgsweep_last_run_disk_usage_ratio',
    ];
    expectValidPrometheusText(text, [...(E.reclaimKnown ? [] : [reclaimed]), ...planFigures]);
    if (E.reclaimKnown) expect(text).toMatch(new RegExp(`^${reclaimed}\\{engine="[^"]*"\\} \\d+$`, 'm'));
    else expect(text).not.toMatch(new RegExp(`^${reclaimed}\\{`, 'm'));
    // Samples are labelled by the engine's address: names repeat across daemons of one host.
    expect(text).toContain(`imgsweep_last_run_success{engine="${t.host}"} 1\n`);
    expect(text).toMatch(/^imgsweep_last_run_images_deleted\{engine="[^"]*"\} 2$/m);
    expect(text).toMatch(/^imgsweep_last_run_references_untagged\{engine="[^"]*"\} 2$/m);
  });

  it('opens the audit log before any step: a symbolic link, or a folder that is not there, stops the run with exit 1 and nothing deleted', async () => {
    const id = await loadImage(t.docker, { tags: ['t11/app:1'], created: OLD });
    const policy = await writePolicy(
      'version: 1\nname: audit\nrules:\n  - name: app\n    match: { repositories: ["t11/app"] }\n',
    );
    const target = join(dir, 't11-target');
    await writeFile(target, '');
    const link = join(dir, 't11-audit-link.jsonl');
    await symlink(target, link);
    const metrics = join(dir, 't11-metrics.prom');
    const r = await applyPolicy(policy, ['--audit-log', link, '--metrics-file', metrics]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`cannot write the audit log ${link}: it is a symbolic link; no step was run`);
    expect(await readFile(target, 'utf8')).toBe(''); // nothing appended to what the link points at
    expect(await readFile(metrics, 'utf8')).toContain(`imgsweep_last_run_success{engine="${t.host}"} 0\n`);
    const missing = join(dir, 't11-no-such-folder', 'audit.jsonl');
    const r2 = await applyPolicy(policy, ['--audit-log', missing]);
    expect(r2.code, r2.stdout + r2.stderr).toBe(1);
    expect(r2.stderr).toMatch(/cannot write the audit log .*ENOENT.*; no step was run/);
    expect(await refsOf(id)).toEqual(unpushed(['t11/app:1']));
  });

  it('stops starting steps when the audit log cannot be written any more (full disk): exit 1, the rest not started', async () => {
    const ids = await loadImages(
      t.docker,
      Array.from({ length: 24 }, (_, k) => ({ tags: [`t12/app:${k}`], created: OLD })),
    );
    const policy = await writePolicy(
      'version: 1\nname: audit-full\nrules:\n  - name: app\n    match: { repositories: ["t12/app"] }\n',
    );
    // A one-page tmpfs holds about a dozen of the 300-600-byte lines, then the writes fail with ENOSPC.
    const full = join(dir, 't12-full');
    await mkdir(full);
    const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', full]);
    expect(mounted.code, mounted.stderr).toBe(0);
    try {
      const audit = join(full, 'audit.jsonl');
      const r = await applyPolicy(policy, ['--json-lines', '--concurrency', '1', '--audit-log', audit]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/could not write the audit log .*ENOSPC.*; no step was started after that/);
      const steps = lines(r.stdout)
        .slice(0, -1)
        .map((l) => JSON.parse(l) as { imageId: string; outcome: string; reason?: { code: string } });
      const done = steps.filter((s) => s.outcome === 'done').map((s) => s.imageId);
      const notStarted = steps.filter((s) => s.reason?.code === 'not-started').map((s) => s.imageId);
      expect(done.length).toBeGreaterThan(0);
      expect(notStarted.length).toBeGreaterThan(0);
      expect(done.length + notStarted.length).toBe(ids.length);
      // What was not started is still there; what was done is gone.
      for (const id of notStarted) expect(await refsOf(id)).not.toBeNull();
      for (const id of done) expect(await refsOf(id)).toBeNull();
      // The log holds the steps written before the disk filled (its last line may be cut short).
      const logged = lines(await readFile(audit, 'utf8')).flatMap((l) => {
        try {
          return [(JSON.parse(l) as { imageId: string }).imageId];
        } catch {
          return [];
        }
      });
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.every((id) => done.includes(id))).toBe(true);
    } finally {
      await runCommand('umount', ['-l', full]);
    }
  });

  it('--json prints one JSON document: the run, its totals, every step as the audit log has it', async () => {
    const id = await loadImage(t.docker, { tags: ['t10-doc/app:1'], created: OLD });
    const kept = await loadImage(t.docker, { tags: ['t10-doc/keep:1'], created: OLD });
    const policy = await writePolicy(
      'version: 1\nname: doc\nrules:\n  - name: app\n    match: { repositories: ["t10-doc/app"] }\n',
    );
    const r = await applyPolicy(policy, ['--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ApplyDocument;
    expect(doc).toMatchObject({ kind: 'imgsweep-apply-report', ok: true, exitCode: 0, errors: [] });
    expect(doc.summary).toMatchObject({ deleted: 1, failed: 0 });
    expect(doc.engines).toHaveLength(1);
    const [e] = doc.engines;
    expect(e!.exitCode).toBe(0);
    expect(e!.steps.some((s) => s.type === 'delete' && s.imageId === id && s.outcome === 'done')).toBe(true);
    expect(e!.steps.every((s) => s.imageId === id)).toBe(true);
    expect(Date.parse(e!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(e!.startedAt!));
    expect((await imageIds()).has(id)).toBe(false);
    expect((await imageIds()).has(kept)).toBe(true);
  });

  it('--json prints its document when the run is refused (exit 3): the error, nothing run', async () => {
    const ids = await Promise.all(
      ['t10-refused/a:1', 't10-refused/b:1'].map((ref) => loadImage(t.docker, { tags: [ref], created: OLD })),
    );
    const policy = await writePolicy(
      'version: 1\nname: refused\nrules:\n  - name: all\n    match: { repositories: ["t10-refused/**"] }\nlimits: { maxDeletions: 1 }\n',
    );
    const r = await applyPolicy(policy, ['--json']);
    expect(r.code, r.stderr).toBe(3);
    const doc = JSON.parse(r.stdout) as ApplyDocument;
    expect(doc).toMatchObject({ ok: false, exitCode: 3, summary: { steps: 0, deleted: 0 } });
    expect(doc.engines).toHaveLength(1);
    expect(doc.engines[0]!.exitCode).toBe(3);
    expect(doc.engines[0]!.error).toMatch(/limit/i);
    expect(doc.engines[0]!.steps).toEqual([]);
    // The refusal is said on stderr as well, for a person reading the log.
    expect(r.stderr).toMatch(/limit/i);
    for (const id of ids) expect((await imageIds()).has(id)).toBe(true);
  });

  it('--json with a policy that does not load: still one document (exit 2)', async () => {
    const policy = await writePolicy('version: 1\nrules: {}\n');
    const r = await applyPolicy(policy, ['--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as ApplyDocument;
    expect(doc).toMatchObject({ ok: false, exitCode: 2, engines: [] });
    expect(doc.errors.join('\n')).toMatch(/rules/);
  });

  it('--json-lines prints only JSON lines (a summary line) when the plan has nothing to do', async () => {
    const id = await loadImage(t.docker, { tags: ['t10-none/app:1'], created: OLD });
    const policy = await writePolicy(
      'version: 1\nname: nothing\nrules:\n  - name: none\n    match: { repositories: ["t10-nothing-matches/**"] }\n',
    );
    const r = await applyPolicy(policy, ['--json-lines']);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.length).toBeGreaterThan(0);
    const parsed = out.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`--json-lines printed a line that is not JSON: ${JSON.stringify(l)}`);
      }
    });
    expect(parsed.at(-1)).toMatchObject({ summary: { steps: 0, deleted: 0, failed: 0 } });
    expect(await refsOf(id)).toEqual(unpushed(['t10-none/app:1']));
  });

  // --- 11. concurrency ----------------------------------------------------------------------------------------------------

  it('--concurrency 1 and --concurrency 8 reach the same end state on identical fixtures', async () => {
    // The second engine starts while this one gets its fixtures.
    const starting = E.start();
    try {
      // One archive of 30 images, loaded on both engines (same IDs); chains are built on each (their IDs differ),
      // so the end state is compared by fixture name.
      const loads = Array.from({ length: 30 }, (_, i): LoadImageOptions => {
        const repo = `cc/app${i % 4}`;
        return {
          tags: Array.from({ length: 1 + (i % 3) }, (_, k) => `${repo}:v${i}-${k}`),
          created: i % 5 === 0 ? new Date().toISOString() : OLD,
          labels: i % 7 === 3 ? { 'isw.cc.keep': '1' } : {},
        };
      });
      const { archive, ids } = imagesArchive(loads);
      const fixtures = async (e: TestEngine): Promise<Map<string, string>> => {
        const names = new Map<string, string>();
        await drainProgress(await e.docker.loadImage(Readable.from([archive]), { quiet: true }), 'docker load');
        ids.forEach((id, i) => names.set(`load-${i}`, id));
        names.set('base', await E.busybox(e.docker, 'cc/base:1'));
        // One after the other: b1 and c1 share a1's cached first step, as successive builds on one host do.
        const chain = async (name: string, from: string, tag: string) => {
          const built = await build(e, { from, tag, steps: ['LABEL isw.cc=1', `LABEL isw.cc.name=${name}`] });
          names.set(name, built.id);
          built.intermediates.forEach((id, k) => names.set(`${name}-intermediate-${k}`, id));
        };
        await chain('a1', 'cc/base:1', 'cc/chain-a:1');
        await chain('a2', 'cc/chain-a:1', 'cc/chain-a:2');
        await chain('b1', 'cc/base:1', 'cc/chain-b:1');
        await chain('b2', 'cc/chain-b:1', 'cc/keep-b:1');
        await chain('c1', 'cc/base:1', 'cc/chain-c:1');
        await e.docker.getImage('cc/chain-c:1').tag({ repo: 'cc/chain-c', tag: 'also' });
        return names;
      };
      const policy = await writePolicy(
        [
          'version: 1',
          'name: concurrency',
          'protect:',
          '  repositories: ["cc/base"]',
          '  labels: ["isw.cc.keep"]',
          'rules:',
          '  - name: old-builds',
          '    match: { repositories: ["cc/app*"], exclude: { tags: ["*-2"] } }',
          '    olderThan: 30d',
          '  - name: chains',
          '    match: { repositories: ["cc/chain-*"] }',
          '  - name: chain-leftovers',
          '    match: { untagged: true, labels: ["isw.cc=1"] }',
        ].join('\n') + '\n',
      );
      const endState = async (e: TestEngine, names: Map<string, string>) => {
        const state: Record<string, string[] | null> = {};
        for (const [name, id] of [...names].sort()) state[name] = (await refsOf(id, e.docker))?.tags ?? null;
        return state;
      };
      const run = async (e: TestEngine, names: Map<string, string>, concurrency: string) => {
        const { plan, file } = await planFor(policy, e);
        const before = await cliImageIds(e);
        const r = await imgsweep([
          'apply',
          file,
          '--host',
          e.host,
          '--state-dir',
          stateDir,
          '--yes',
          '--concurrency',
          concurrency,
        ]);
        expect(r.code, r.stderr + r.stdout).toBe(0);
        expect(r.stdout).not.toMatch(/^(skipped|failed)\b/m);
        expect(difference(before, await cliImageIds(e))).toEqual(new Set(deletesOf(plan)));
        return { state: await endState(e, names), plan, names };
      };
      // The fixtures go onto both engines side by side; the two applies run one after the other.
      const [namesOne, namesEight] = await Promise.all([fixtures(t), starting.then(fixtures)]);
      const one = await run(t, namesOne, '1');
      const eight = await run(await starting, namesEight, '8');
      expect(eight.state).toEqual(one.state);
      // Sanity: the fixtures exercise deletes, untags, kept parents and whole chains.
      expect(one.plan.summary.deletes).toBeGreaterThan(15);
      expect(one.plan.summary.untags).toBeGreaterThan(5);
      expect(one.state.a1).toBeNull();
      expect(one.state.a2).toBeNull();
      expect(one.state.c1).toBeNull();
      expect(one.state.b1).toEqual(['cc/chain-b:1']); // parent of the kept cc/keep-b:1
      expect(one.state.b2).toEqual(['cc/keep-b:1']);
      expect(one.state.base).toEqual(['cc/base:1']);
      expect(one.state['load-3']).not.toBeNull(); // labelled isw.cc.keep
    } finally {
      await starting.then(
        (second) => second.stop(),
        () => undefined,
      );
    }
  });
}

/**
 * Checks Prometheus text exposition format: HELP/TYPE before samples, valid names, numbers, labels; and a sample
 * for every declared family but those named `unsampled` (the format allows a family without samples).
 */
function expectValidPrometheusText(text: string, unsampled: string[] = []): void {
  expect(text.endsWith('\n')).toBe(true);
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const sampled = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      expect(helped.has(m[1]!), `duplicate HELP ${m[1]}`).toBe(false);
      helped.add(m[1]!);
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      expect(typed.has(m[1]!), `duplicate TYPE ${m[1]}`).toBe(false);
      expect(sampled.has(m[1]!), `TYPE after samples for ${m[1]}`).toBe(false);
      typed.set(m[1]!, m[2]!);
    } else if (
      (m =
        /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)( -?\d+)?$/.exec(
          line,
        ))
    ) {
      expect(typed.has(m[1]!), `sample without TYPE: ${line}`).toBe(true);
      expect(helped.has(m[1]!), `sample without HELP: ${line}`).toBe(true);
      expect(Number.isNaN(Number(m[3])) && !/^(NaN|[+-]Inf)$/.test(m[3]!), `bad value: ${line}`).toBe(false);
      sampled.add(m[1]!);
    } else {
      throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
    }
  }
  for (const name of typed.keys())
    expect(sampled.has(name), `${unsampled.includes(name) ? 'a' : 'no'} sample for ${name}`).toBe(
      !unsampled.includes(name),
    );
}
