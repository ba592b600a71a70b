/**
 * `imgsweep apply` when the engine changes between plan and apply, and the refusals: each hazard is reproduced on
 * a real engine and the engine's state is checked directly afterwards. The suite runs on dockerd
 * (test/integration/apply-safety.test.ts) and on a Podman service (its Docker-compatible API;
 * apply-safety-podman.test.ts), each file in a worker and with engines of its own: the same tests, with names
 * compared in Docker's short form.
 * One test needs what only Docker has: two daemons sharing /info IDs.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { runCli, type CliResult } from './cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from './dockerd.js';
import { buildChild, imageArchive, importBusybox, loadImage, runContainer } from './fixtures.js';
import { importBusyboxPodman, PODMAN_ULIMITS, runPodmanContainer, startPodman } from './podman.js';
import { drainProgress } from './progress.js';

const OLD = '2020-01-01T00:00:00Z';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

interface StepRecord {
  type: string;
  imageId: string;
  ref?: string;
  containerId?: string;
  outcome: string;
  /** The reason code with its facts (null: done, nothing to add), and its words. */
  reason: { code: string } | null;
  message: string;
}

/** One engine of the matrix: how to start it and what differs in driving it. */
interface EngineKind {
  name: 'docker' | 'podman';
  start(): Promise<TestEngine>;
  busybox(docker: Docker, ref: string): Promise<string>;
  run(docker: Docker, image: string, opts: { running: boolean }): Promise<string>;
  /** What a container needs to start on this engine here (Podman: explicit rlimits for runc). */
  hostConfig: Docker.HostConfig;
  /** A name as Docker shows it: Podman qualifies short names (localhost/app:1, docker.io/x/y:1, docker.io/library/x:1). */
  familiar: (ref: string) => string;
}

const ENGINES: EngineKind[] = [
  {
    name: 'docker',
    start: startDockerd,
    busybox: importBusybox,
    run: runContainer,
    hostConfig: {},
    familiar: (r) => r,
  },
  {
    name: 'podman',
    start: startPodman,
    busybox: importBusyboxPodman,
    run: runPodmanContainer,
    hostConfig: { Ulimits: PODMAN_ULIMITS },
    // Loaded images are named localhost/…, names given through the API docker.io/…: both are "app:1" to Docker.
    familiar: (r) => r.replace(/^localhost\//, '').replace(/^docker\.io\/(library\/)?/, ''),
  },
];

/** Registers the suite on one engine kind: each test file runs one (its own worker, its own engine). */
export function applySafetySuite(name: EngineKind['name']): void {
  const E = ENGINES.find((e) => e.name === name)!;
  describe.skipIf(engineTestsSkipped())('imgsweep apply: safety when the engine changed, refusals', () => {
    describe(`on '${name}'`, () => engineSuite(E));
  });
}

function engineSuite(E: EngineKind): void {
  let t: TestEngine;
  let dir: string;
  let stateDir: string;
  let counter = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-apply-safety-'));
    stateDir = join(dir, 'state');
    // No engine, or one that does not come up, fails here with the reason: never a silent skip.
    t = await E.start();
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // --- helpers ---------------------------------------------------------------------------------------------

  const imgsweep = (args: string[], opts: { stdinTTY?: boolean } = {}): Promise<CliResult> =>
    runCli(args, { env: {}, ...opts });

  async function writePolicy(yaml: string): Promise<string> {
    const path = join(dir, `policy-${++counter}.yaml`);
    await writeFile(path, yaml);
    return path;
  }

  const simplePolicy = (match: string, extra = '') =>
    writePolicy(`version: 1\nname: safety\n${extra}rules:\n  - name: sel\n    match: ${match}\n`);

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

  const applyFile = (file: string, extra: string[] = []) =>
    imgsweep(['apply', file, '--host', t.host, '--state-dir', stateDir, '--yes', ...extra]);

  /** Applies a saved plan with --json-lines; returns the exit code, the step records and stderr. */
  async function applyJson(
    file: string,
    extra: string[] = [],
  ): Promise<{ code: number; steps: StepRecord[]; stderr: string; stdout: string }> {
    const r = await applyFile(file, ['--json-lines', ...extra]);
    const records = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return {
      code: r.code,
      steps: records.filter((x) => 'type' in x) as unknown as StepRecord[],
      stderr: r.stderr,
      stdout: r.stdout,
    };
  }

  const fullId = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);

  async function imageIds(docker: Docker = t.docker): Promise<Set<string>> {
    return new Set((await docker.listImages({ all: true })).map((i) => fullId(i.Id)));
  }

  async function containerIds(docker: Docker = t.docker): Promise<Set<string>> {
    return new Set((await docker.listContainers({ all: true })).map((c) => c.Id));
  }

  /** The image's tags (sorted), or null when it is gone. */
  async function tagsOf(id: string, docker: Docker = t.docker): Promise<string[] | null> {
    try {
      return ((await docker.getImage(id).inspect()).RepoTags ?? [])
        .filter((r) => r !== '<none>:<none>')
        .map(E.familiar)
        .sort();
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  /** The engine's own spelling of one of the image's names (Podman qualifies them), to move exactly that name. */
  async function engineRef(id: string, short: string): Promise<string> {
    const found = ((await t.docker.getImage(id).inspect()).RepoTags ?? []).find((r) => E.familiar(r) === short);
    if (found === undefined) throw new Error(`${id} has no name ${short}`);
    return found;
  }

  const deletesOf = (plan: Plan) => plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
  const difference = <T>(a: Set<T>, b: Set<T>): Set<T> => new Set([...a].filter((x) => !b.has(x)));

  /** `docker tag SOURCE TARGET` with the docker CLI, as a person would between plan and apply. */
  async function dockerCli(args: string[]): Promise<void> {
    const r = await t.cli(args);
    expect(r.code, r.stderr).toBe(0);
  }

  // --- 3. a tag moved between plan and apply -------------------------------------------------------------------------

  describe('a tag moved between plan and apply', () => {
    it('skips the delete of the image the tag left; the image it moved to keeps its tag', async () => {
      const old = await loadImage(t.docker, { tags: ['t3-moved/app:old'], created: OLD });
      const fresh = await loadImage(t.docker, { tags: ['t3-moved/app:new'] });
      const { plan, file } = await planFor(await simplePolicy('{ references: ["t3-moved/app:old"] }'));
      expect(plan.actions).toEqual([
        expect.objectContaining({
          type: 'delete',
          imageId: old,
          refs: expect.arrayContaining([expect.stringMatching(/(^|\/)t3-moved\/app:old$/)]) as unknown,
        }),
      ]);
      await dockerCli(['tag', fresh, plan.actions[0]!.refs!.find((r) => !r.includes('@'))!]);
      const before = await imageIds();

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(fresh)).toEqual(['t3-moved/app:new', 't3-moved/app:old']);
      expect(difference(before, await imageIds()).has(fresh)).toBe(false);
      // The plan deleted `old` because of the reference t3-moved/app:old, which it no longer has: that
      // step's facts changed, so it is dropped and reported, not carried out on other grounds.
      expect(r.steps).toEqual([
        expect.objectContaining({
          type: 'delete',
          imageId: old,
          outcome: 'skipped',
          reason: expect.objectContaining({ code: expect.any(String) }),
        }),
      ]);
      expect(await tagsOf(old)).toEqual([]);
    });

    it('skips the untag of a reference that moved to another image, which keeps it', async () => {
      const old = await loadImage(t.docker, { tags: ['t3-two/app:1', 't3-two/app:2'], created: OLD });
      const fresh = await loadImage(t.docker, { tags: ['t3-two/fresh:1'] });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t3-two/app"] }'));
      const untag = plan.actions.find((a) => a.type === 'untag');
      expect(untag?.imageId).toBe(old);
      expect(deletesOf(plan)).toEqual([old]);
      await dockerCli(['tag', fresh, untag!.ref!]);

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(r.steps.find((s) => s.type === 'untag')).toMatchObject({
        ref: untag!.ref,
        outcome: 'skipped',
        reason: { code: 'reference-moved', imageId: fresh },
      });
      expect(await tagsOf(fresh)).toEqual([E.familiar(untag!.ref!), 't3-two/fresh:1'].sort());
    });

    it('never deletes by name when the reference the delete would keep moved away: both steps are dropped', async () => {
      // Plan: untag one tag, then delete by ID with the other. That other tag moves: untagging the first by
      // name would now remove the last reference, i.e. delete the image by name (never). The
      // delete's facts changed too (its reference moved), so it is dropped (§5.2): the image stays for a later run.
      const old = await loadImage(t.docker, { tags: ['t3-final/app:1', 't3-final/app:2'], created: OLD });
      const fresh = await loadImage(t.docker, { tags: ['t3-final/fresh:1'] });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t3-final/app"] }'));
      const del = plan.actions.find((a) => a.type === 'delete')!;
      const untag = plan.actions.find((a) => a.type === 'untag')!;
      // Podman adds the repository's digest to every tagged image: the delete keeps one tag (and that digest).
      const keptTag = del.refs!.filter((r) => !r.includes('@'));
      expect(keptTag).toHaveLength(1);
      await dockerCli(['tag', fresh, keptTag[0]!]);
      const before = await imageIds();

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(fresh)).toEqual([E.familiar(keptTag[0]!), 't3-final/fresh:1'].sort());
      expect(await imageIds()).toEqual(before);
      expect(await tagsOf(old)).toEqual([E.familiar(untag.ref!)]);
      const steps = JSON.stringify(r.steps.map((s) => [s.type, s.ref ?? '', s.outcome, s.reason]));
      expect(
        r.steps.find((s) => s.type === 'untag'),
        steps,
      ).toMatchObject({ outcome: 'skipped', reason: { code: 'left-for-delete' } });
      expect(
        r.steps.find((s) => s.type === 'delete'),
        steps,
      ).toMatchObject({ outcome: 'skipped', reason: { code: 'references-lost' } });
    });

    it('keeps a planned image that gained a tag after the plan, with that tag', async () => {
      const id = await loadImage(t.docker, { tags: ['t3-gained/app:1', 't3-gained/app:2'], created: OLD });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t3-gained/app"] }'));
      expect(deletesOf(plan)).toEqual([id]);
      await dockerCli(['tag', id, 't3-gained/prod:1']);
      const before = await imageIds();
      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await imageIds()).toEqual(before);
      expect(await tagsOf(id)).toContain('t3-gained/prod:1');
      expect(r.steps.find((s) => s.type === 'delete')).toMatchObject({
        outcome: 'skipped',
        reason: { code: 'unplanned-references' },
        message: expect.stringContaining('t3-gained/prod:1'),
      });
    });

    it('does not delete a kept image when its kept tag moved away before its other tag is untagged', async () => {
      // The plan untags only t3-kept/app:sel: the image stays with t3-kept/app:keep. When that tag moves,
      // untagging :sel by name would remove the image's last reference and so delete the image.
      const kept = await loadImage(t.docker, { tags: ['t3-kept/app:keep', 't3-kept/app:sel'], created: OLD });
      const fresh = await loadImage(t.docker, { tags: ['t3-kept/fresh:1'] });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t3-kept/app"], tags: ["sel"] }'));
      expect(plan.actions).toEqual([
        expect.objectContaining({
          type: 'untag',
          imageId: kept,
          ref: expect.stringMatching(/(^|\/)t3-kept\/app:sel$/),
        }),
      ]);
      expect(deletesOf(plan)).toEqual([]);
      await dockerCli(['tag', fresh, await engineRef(kept, 't3-kept/app:keep')]);
      const before = await imageIds();

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(fresh)).toEqual(['t3-kept/app:keep', 't3-kept/fresh:1']);
      expect(difference(before, await imageIds()), 'the plan deletes no image').toEqual(new Set());
      expect(await tagsOf(kept)).toEqual(['t3-kept/app:sel']);
      expect(r.steps).toEqual([expect.objectContaining({ type: 'untag', outcome: 'skipped' })]);
    });

    it('does not delete a kept image whose kept tag was removed before its other tag is untagged', async () => {
      const kept = await loadImage(t.docker, { tags: ['t3-rmi/app:keep', 't3-rmi/app:sel'], created: OLD });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t3-rmi/app"], tags: ["sel"] }'));
      expect(plan.actions).toEqual([
        expect.objectContaining({ type: 'untag', imageId: kept, ref: expect.stringMatching(/(^|\/)t3-rmi\/app:sel$/) }),
      ]);
      await dockerCli(['rmi', await engineRef(kept, 't3-rmi/app:keep')]);
      expect(await tagsOf(kept)).toEqual(['t3-rmi/app:sel']);

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(kept), 'the plan keeps this image').toEqual(['t3-rmi/app:sel']);
      expect(r.steps).toEqual([expect.objectContaining({ type: 'untag', outcome: 'skipped' })]);
    });
  });

  // --- 4. a container (or a child image) appeared between plan and apply ------------------------------------------------------

  describe('a planned image came into use between plan and apply', () => {
    it('keeps an image (and all its tags) that a container created after the plan uses; its steps are skipped', async () => {
      const created = await E.busybox(t.docker, 't4/created:1');
      await t.docker.getImage(created).tag({ repo: 't4/created', tag: '2' });
      const running = await E.busybox(t.docker, 't4/running:1');
      await t.docker.getImage(running).tag({ repo: 't4/running', tag: '2' });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t4/**"] }'));
      expect(new Set(deletesOf(plan))).toEqual(new Set([created, running]));
      expect(plan.actions.filter((a) => a.type === 'untag')).toHaveLength(2);
      // A container created (never started) by its tag, and one running by ID.
      const container = await t.docker.createContainer({
        Image: 't4/created:2',
        Cmd: ['/bin/busybox', 'true'],
        HostConfig: { NetworkMode: 'none', ...E.hostConfig },
      });
      const runner = await E.run(t.docker, running, { running: true });

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(created)).toEqual(['t4/created:1', 't4/created:2']);
      expect(await tagsOf(running)).toEqual(['t4/running:1', 't4/running:2']);
      expect(r.steps).toHaveLength(4);
      for (const s of r.steps)
        expect(s, JSON.stringify(s)).toMatchObject({ outcome: 'skipped', reason: { code: expect.any(String) } });
      expect((await containerIds()).has(container.id)).toBe(true);
      expect((await t.docker.getContainer(runner).inspect()).State.Running).toBe(true);
    });

    it('does not remove a planned stopped container that was started again, nor its image', async () => {
      const id = await E.busybox(t.docker, 't4-restart/app:1');
      const container = await t.docker.createContainer({
        Image: id,
        Cmd: ['/bin/busybox', 'sleep', '1000'],
        HostConfig: { NetworkMode: 'none', ...E.hostConfig },
      });
      await container.start();
      await container.kill();
      await container.wait();
      await sleep(1_500);
      const { plan, file } = await planFor(
        await simplePolicy('{ repositories: ["t4-restart/**"] }', 'containers: { stopped: remove, stoppedFor: 1s }\n'),
      );
      expect(plan.actions.map((a) => a.type)).toEqual(['remove-container', 'delete']);
      await container.start();

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect((await container.inspect()).State.Running).toBe(true);
      expect(await tagsOf(id)).toEqual(['t4-restart/app:1']);
      for (const s of r.steps) expect(s.outcome).toBe('skipped');
    });

    // Docker's legacy builder and Podman's compatible build both record the parent link.
    it('keeps a planned image that a new child image was built from after the plan', async () => {
      const parent = await E.busybox(t.docker, 't4-child/base:1');
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t4-child/base"] }'));
      expect(deletesOf(plan)).toEqual([parent]);
      const child = await buildChild(t, {
        from: 't4-child/base:1',
        tag: 't4-child/new:1',
        steps: ['LABEL isw.t4=child'],
      });

      const r = await applyJson(file);
      expect(r.code, r.stderr).toBe(0);
      expect(await tagsOf(parent)).toEqual(['t4-child/base:1']);
      expect(await tagsOf(child.id)).toEqual(['t4-child/new:1']);
      expect(r.steps).toEqual([expect.objectContaining({ type: 'delete', outcome: 'skipped' })]);
    });
  });

  // --- 7. deleted by someone else; a rerun after a partial run ----------------------------------------------------------------

  it('reports an image deleted by someone else as skipped "already gone", not failed', async () => {
    const single = await loadImage(t.docker, { tags: ['t7/single:1'], created: OLD });
    const multi = await loadImage(t.docker, { tags: ['t7/multi:1', 't7/multi:2'], created: OLD });
    const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t7/**"] }'));
    expect(new Set(deletesOf(plan))).toEqual(new Set([single, multi]));
    await dockerCli(['rmi', 't7/single:1']);
    await dockerCli(['rmi', 't7/multi:1', 't7/multi:2']);
    expect(await tagsOf(single)).toBeNull();
    expect(await tagsOf(multi)).toBeNull();

    const r = await applyJson(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps).toHaveLength(3);
    for (const s of r.steps)
      expect(s, JSON.stringify(s)).toMatchObject({
        outcome: 'skipped',
        reason: { code: expect.stringMatching(/^(image|reference|container)-gone$/) },
      });
    const text = await applyFile(file);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^skipped delete .*: image already gone$/m);
    expect(text.stdout).toMatch(/0 failed/);
  });

  it('finishes the job when rerun after a partial run (untag done, delete not)', async () => {
    const id = await loadImage(t.docker, { tags: ['t7-rerun/app:1', 't7-rerun/app:2'], created: OLD });
    const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t7-rerun/app"] }'));
    const untag = plan.actions.find((a) => a.type === 'untag')!;
    await dockerCli(['rmi', untag.ref!]); // what the killed run had done
    const r = await applyJson(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.map((s) => [s.type, s.outcome])).toEqual([
      ['untag', 'skipped'],
      ['delete', 'done'],
    ]);
    expect(await tagsOf(id)).toBeNull();
    const again = await applyJson(file);
    expect(again.code, again.stderr).toBe(0);
    expect(again.steps.map((s) => s.outcome)).toEqual(['skipped', 'skipped']);
  });

  // --- 8. refusals: another engine, too old, limits, lock ----------------------------------------------------------------------

  describe('refusals (exit 3, nothing deleted)', () => {
    // Two dockerds made from one data root share /info IDs; Podman answers a new /info ID per call, and
    // test/integration/podman.test.ts keys two Podman services apart.
    it.runIf(E.name === 'docker')(
      'refuses a plan made on another engine on this host, although the /info IDs are the same',
      async () => {
        const other = await startDockerd();
        try {
          // The same image (same ID and tag) on both engines: a plan from one would delete it on the other.
          const { archive, id } = imageArchive({ tags: ['t8-engine/app:1'], created: OLD });
          for (const d of [t.docker, other.docker])
            await drainProgress(await d.loadImage(Readable.from([archive]), { quiet: true }), 'docker load');
          const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t8-engine/**"] }'), other);
          expect(deletesOf(plan)).toEqual([id]);
          expect(plan.engine.id).toBe((await t.docker.info()).ID);
          const { plan: here } = await planFor(await simplePolicy('{ repositories: ["t8-nothing/**"] }'));
          expect(here.engine.id).toBe(plan.engine.id);
          expect(here.engine.key).not.toBe(plan.engine.key);
          const before = await imageIds();

          const r = await applyFile(file);
          expect(r.code, r.stderr + r.stdout).toBe(3);
          expect(r.stderr).toMatch(/another engine/);
          expect(await imageIds()).toEqual(before);
          expect(await tagsOf(id)).toEqual(['t8-engine/app:1']);
          expect(await tagsOf(id, other.docker)).toEqual(['t8-engine/app:1']);
        } finally {
          await other.stop();
        }
      },
    );

    it('refuses a plan older than --max-plan-age', async () => {
      const id = await loadImage(t.docker, { tags: ['t8-age/app:1'], created: OLD });
      const { file } = await planFor(await simplePolicy('{ repositories: ["t8-age/**"] }'));
      await sleep(1_500);
      const before = await imageIds();
      const r = await applyFile(file, ['--max-plan-age', '1s']);
      expect(r.code, r.stderr + r.stdout).toBe(3);
      expect(r.stderr).toMatch(/old/);
      expect(await imageIds()).toEqual(before);
      expect(await tagsOf(id)).toEqual(['t8-age/app:1']);
      // The same plan is applied within the default age.
      const ok = await applyFile(file);
      expect(ok.code, ok.stderr).toBe(0);
      expect(await tagsOf(id)).toBeNull();
    });

    it('refuses a plan over limits.maxDeletions, from a policy and from a saved plan', async () => {
      const a = await loadImage(t.docker, { tags: ['t8-limit/app:1'], created: OLD });
      const b = await loadImage(t.docker, { tags: ['t8-limit/app:2'], created: OLD });
      const policy = await simplePolicy('{ repositories: ["t8-limit/**"] }', 'limits: { maxDeletions: 1 }\n');
      const before = await imageIds();
      const metrics = join(dir, 'refused.prom');
      const direct = await imgsweep([
        'apply',
        '-p',
        policy,
        '--host',
        t.host,
        '--state-dir',
        stateDir,
        '--yes',
        '--metrics-file',
        metrics,
      ]);
      expect(direct.code, direct.stderr + direct.stdout).toBe(3);
      expect(direct.stderr).toMatch(/maxDeletions/);
      expect(await readFile(metrics, 'utf8')).toMatch(/^imgsweep_last_run_success\{engine="[^"]*"\} 0$/m);
      expect(await imageIds()).toEqual(before);
      const { plan, file } = await planFor(policy);
      expect(plan.refused).not.toBeNull();
      const saved = await applyFile(file);
      expect(saved.code, saved.stderr + saved.stdout).toBe(3);
      expect(await imageIds()).toEqual(before);
      expect(await tagsOf(a)).toEqual(['t8-limit/app:1']);
      expect(await tagsOf(b)).toEqual(['t8-limit/app:2']);
    });

    it('refuses while another live run holds the lock, and takes over a lock whose holder is gone', async () => {
      const id = await loadImage(t.docker, { tags: ['t8-lock/app:1'], created: OLD });
      const { plan, file } = await planFor(await simplePolicy('{ repositories: ["t8-lock/**"] }'));
      const lock = join(stateDir, `${plan.engine.key}.lock`);
      // pid 1 is alive (this host's init): a live holder.
      await writeFile(
        lock,
        `${JSON.stringify({ pid: 1, host: hostname(), startedAt: new Date().toISOString(), command: 'imgsweep apply (test)' })}\n`,
      );
      const refused = await applyFile(file);
      expect(refused.code, refused.stderr + refused.stdout).toBe(3);
      expect(refused.stderr).toMatch(/lock/);
      expect(await tagsOf(id)).toEqual(['t8-lock/app:1']);
      // A holder that is gone: taken over at once.
      await writeFile(
        lock,
        `${JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: new Date().toISOString(), command: 'imgsweep apply (killed)' })}\n`,
      );
      const ok = await applyFile(file);
      expect(ok.code, ok.stderr + ok.stdout).toBe(0);
      expect(await tagsOf(id)).toBeNull();
      await expect(readFile(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  // --- a saved plan is what was reviewed: edits refused, and -p POLICY runs only what the policy still plans ---------

  describe('a saved plan and its policy', () => {
    it('with -p POLICY runs only the steps the policy still plans; the others are skipped, and a changed policy is said', async () => {
      const a = await loadImage(t.docker, { tags: ['t10-cur/a:1'], created: OLD });
      const b = await loadImage(t.docker, { tags: ['t10-cur/b:1'], created: OLD });
      const c = await loadImage(t.docker, { tags: ['t10-cur/c:1'], created: OLD });
      const policy = await simplePolicy('{ repositories: ["t10-cur/a", "t10-cur/b"] }');
      const { plan, file } = await planFor(policy);
      expect(new Set(deletesOf(plan))).toEqual(new Set([a, b]));
      // After review the policy changes: b is protected now, and c is selected (a step never reviewed).
      await writeFile(
        policy,
        'version: 1\nname: safety\nprotect: { repositories: ["t10-cur/b"] }\nrules:\n  - name: sel\n    match: { repositories: ["t10-cur/**"] }\n',
      );
      const r = await applyJson(file, ['-p', policy]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stderr).toMatch(
        /has changed since the plan was made \(sha256 [0-9a-f]{12}, the plan's policy [0-9a-f]{12}\)/,
      );
      expect(r.stderr).toMatch(/1 of the saved plan's steps is not in the policy's current plan; skipped/);
      expect(r.stderr).toMatch(/1 step of the policy's current plan is not in the saved plan; not run/);
      const byImage = new Map(r.steps.map((s) => [s.imageId, s]));
      expect(byImage.get(a)).toMatchObject({ outcome: 'done' });
      expect(byImage.get(b)).toMatchObject({
        outcome: 'skipped',
        reason: { code: 'not-in-current-plan' },
        message: "not in the policy's current plan",
      });
      expect(byImage.has(c)).toBe(false);
      expect(await tagsOf(a)).toBeNull();
      expect(await tagsOf(b)).toEqual(['t10-cur/b:1']);
      expect(await tagsOf(c)).toEqual(['t10-cur/c:1']);
    });

    it('with the policy unchanged and the engine as planned, says nothing more and runs every step', async () => {
      const a = await loadImage(t.docker, { tags: ['t10-same/a:1', 't10-same/a:2'], created: OLD });
      const policy = await simplePolicy('{ repositories: ["t10-same/**"] }');
      const { file } = await planFor(policy);
      const r = await applyJson(file, ['-p', policy]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.steps.map((s) => s.outcome)).toEqual(['done', 'done']);
      expect(await tagsOf(a)).toBeNull();
    });

    it('refuses (exit 3) a saved plan edited to delete an image it keeps, or to remove a container its policy protects', async () => {
      const kept = await loadImage(t.docker, { tags: ['t10-edit/keep:1'], created: OLD });
      const used = await E.busybox(t.docker, 't10-edit/used:1');
      const stopped = await E.run(t.docker, used, { running: false });
      const policy = await simplePolicy(
        '{ repositories: ["t10-edit/**"] }',
        'protect: { repositories: ["t10-edit/keep"] }\n',
      );
      const { plan } = await planFor(policy);
      expect(plan.policy.stoppedContainers).toBe('protect');
      expect(plan.actions).toEqual([]);
      const why = new Map(plan.kept.map((k) => [k.imageId, k.reason]));
      expect([why.get(kept), why.get(used)]).toEqual(['protected-reference', 'in-use-stopped']);
      const before = { images: await imageIds(), containers: await containerIds() };
      const edits: [string, Partial<Plan>, RegExp][] = [
        [
          'delete of a kept image',
          {
            actions: [
              { type: 'delete', imageId: kept, refs: ['t10-edit/keep:1'], parentId: null, rule: 'sel', bytes: 1000 },
            ],
            summary: { ...plan.summary, deletes: 1 },
          },
          /deletes image sha256:[0-9a-f]{64}, which it also keeps/,
        ],
        [
          'removal of a stopped container',
          {
            actions: [{ type: 'remove-container', imageId: used, containerId: stopped, rule: 'sel' }],
            summary: { ...plan.summary, removeContainers: 1 },
            kept: plan.kept.filter((k) => k.imageId !== used),
          },
          /removes container [0-9a-f]{64}, but the policy it records protects stopped containers/,
        ],
      ];
      for (const [what, edit, message] of edits) {
        const edited = join(dir, `edited-${++counter}.json`);
        await writeFile(
          edited,
          JSON.stringify({ ...plan, ...edit, summary: { ...edit.summary!, kept: (edit.kept ?? plan.kept).length } }),
        );
        const r = await applyFile(edited);
        expect(r.code, `${what}: ${r.stderr}${r.stdout}`).toBe(3);
        expect(r.stderr, what).toMatch(message);
      }
      expect(await imageIds()).toEqual(before.images);
      expect(await containerIds()).toEqual(before.containers);
      expect(await tagsOf(kept)).toEqual(['t10-edit/keep:1']);
    });
  });

  // --- last used : a fresh pull of an old image is not "unused for" long ----------------------------------------------

  it('does not evict an old image seen for the first time by an unusedFor rule', async () => {
    // Created in 2020 but just loaded (as a fresh pull would be): never seen before, so used when first seen.
    const id = await loadImage(t.docker, { tags: ['t3-fresh/app:1'], created: OLD });
    const policy = await writePolicy(
      'version: 1\nname: lru\nrules:\n  - name: stale\n    match: { repositories: ["t3-fresh/**"] }\n    unusedFor: 1h\n',
    );
    const r = await imgsweep(['apply', '-p', policy, '--host', t.host, '--state-dir', stateDir, '--yes']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await tagsOf(id)).toEqual(['t3-fresh/app:1']);
  });

  // --- 9. no terminal, no --yes ------------------------------------------------------------------------------------------------

  it('refuses at once (exit 2) without a terminal and without --yes, deleting nothing', async () => {
    const id = await loadImage(t.docker, { tags: ['t9/app:1', 't9/app:2'], created: OLD });
    const policy = await simplePolicy('{ repositories: ["t9/**"] }');
    const { file } = await planFor(policy);
    const before = { images: await imageIds(), containers: await containerIds() };
    for (const args of [
      ['apply', '-p', policy, '--host', t.host, '--state-dir', stateDir],
      ['apply', file, '--host', t.host, '--state-dir', stateDir],
      ['apply', file, '--host', t.host, '--state-dir', stateDir, '--json-lines'],
    ]) {
      for (const stdinTTY of [false, true]) {
        const startedAt = Date.now();
        const r = await imgsweep(args, { stdinTTY }); // stderr is never a terminal here
        expect(r.code, `${args.join(' ')} stdinTTY=${stdinTTY}: ${r.stderr}${r.stdout}`).toBe(2);
        expect(r.stderr).toMatch(/--yes/);
        expect(Date.now() - startedAt).toBeLessThan(5_000);
      }
    }
    expect(await imageIds()).toEqual(before.images);
    expect(await containerIds()).toEqual(before.containers);
    expect(await tagsOf(id)).toEqual(['t9/app:1', 't9/app:2']);
  });
}
