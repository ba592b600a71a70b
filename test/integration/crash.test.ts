/**
 * Crash safety of `imgsweep apply` on a real dockerd (one run per engine; only what the plan lists is removed):
 * - the apply process is SIGKILLed mid-way: nothing outside the plan is touched, the engine is consistent,
 *   and a rerun takes over the stale lock and finishes the job;
 * - the engine itself is killed mid-apply: the run ends (bounded), exit 1, reports what was done and what
 *   failed without a stack trace; a daemon restarted on the same data root is consistent and a rerun finishes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineTestsSkipped, getOnSocket, startDockerd, type TestEngine } from '../support/dockerd.js';
import { generateInventory, resetEngine } from '../support/generate-fixtures.js';
import { startPodman } from '../support/podman.js';
import { exited, runCommand, stopChild, tailFile, waitFor, which, type CommandResult } from '../support/process.js';
import { recordRun } from '../support/reliability.js';

const BIN = fileURLToPath(new URL('../../bin/imgsweep.js', import.meta.url));

/** Deletes most of the inventory; keeps keep=yes images whole and `*-2` tags (their other tags are untagged). */
const POLICY = `version: 1
name: crash
protect:
  labels: ["keep=yes"]
  tags: ["*-2"]
rules:
  - name: unused
    match: { unused: true }
`;

interface PlanFile {
  actions: { type: 'untag' | 'delete' | 'remove-container'; imageId: string; ref?: string; refs?: string[] }[];
}

interface Live {
  refs: Map<string, string[]>;
  parent: Map<string, string | null>;
}

/** Podman's compatible API may answer IDs without "sha256:"; plans always carry it. */
const fullId = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);

async function live(docker: Docker): Promise<Live> {
  const images = await docker.listImages({ all: true });
  const clean = (xs: string[] | null | undefined) => (xs ?? []).filter((r) => !r.startsWith('<none>'));
  return {
    refs: new Map(images.map((i) => [fullId(i.Id), [...clean(i.RepoTags), ...clean(i.RepoDigests)].sort()])),
    parent: new Map(images.map((i) => [fullId(i.Id), i.ParentId ? fullId(i.ParentId) : null])),
  };
}

/** What the plan may remove: per image, the references it untags or deletes with the image; the deleted IDs. */
function planned(plan: PlanFile) {
  const deletes = new Set<string>();
  const refsGo = new Map<string, Set<string>>(); // every reference the plan removes, by image
  const untags = new Map<string, Set<string>>(); // references the plan untags by name, by image
  const add = (m: Map<string, Set<string>>, id: string, r: string) => m.set(id, (m.get(id) ?? new Set()).add(r));
  for (const a of plan.actions) {
    if (a.type === 'delete') {
      deletes.add(a.imageId);
      for (const r of a.refs ?? []) add(refsGo, a.imageId, r);
    } else if (a.type === 'untag') {
      add(refsGo, a.imageId, a.ref!);
      add(untags, a.imageId, a.ref!);
    }
  }
  const touched = new Set(plan.actions.map((a) => a.imageId));
  return { deletes, refsGo, untags, touched };
}

const repoOf = (ref: string) =>
  ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref.slice(0, ref.lastIndexOf(':'));

/**
 * A repository's digest goes with its last tag on the image (Podman gives every tagged image its digest):
 * lost with the plan's consent when the plan removes a tag of that repository and none is left.
 */
function digestFollowsTags(r: string, left: string[], removed: Set<string>): boolean {
  if (!r.includes('@')) return false;
  const repo = repoOf(r);
  return (
    [...removed].some((x) => !x.includes('@') && repoOf(x) === repo) &&
    !left.some((x) => !x.includes('@') && repoOf(x) === repo)
  );
}

/** Engine state vs the plan while it may be half done: only planned things are gone, nothing dangles. */
function expectWithinPlan(before: Live, now: Live, plan: PlanFile, context: string) {
  const p = planned(plan);
  const gone = [...before.refs.keys()].filter((id) => !now.refs.has(id));
  expect(
    gone.filter((id) => !p.deletes.has(id)),
    `images gone that the plan does not delete\n${context}`,
  ).toEqual([]);
  expect(
    [...now.refs.keys()].filter((id) => !before.refs.has(id)),
    `new images\n${context}`,
  ).toEqual([]);
  for (const [id, refs] of now.refs) {
    const had = before.refs.get(id)!;
    expect(
      refs.filter((r) => !had.includes(r)),
      `references added to ${id}`,
    ).toEqual([]);
    const lost = had.filter((r) => !refs.includes(r));
    const allowed = p.refsGo.get(id) ?? new Set<string>();
    expect(
      lost.filter((r) => !allowed.has(r) && !digestFollowsTags(r, refs, allowed)),
      `references of ${id} removed although the plan keeps them\n${context}`,
    ).toEqual([]);
    if (!p.touched.has(id)) expect(refs, `image ${id} is not in the plan`).toEqual(had);
    // Consistent: an image that stays still has its parent.
    const parent = now.parent.get(id);
    if (parent) expect(now.refs.has(parent), `image ${id} lost its parent ${parent}\n${context}`).toBe(true);
  }
  return { gone, lost: [...now.refs].reduce((n, [id, refs]) => n + before.refs.get(id)!.length - refs.length, 0) };
}

/**
 * Steps whose audit record disagrees with the engine now: one recorded done did not happen, one that happened
 * was recorded failed, not started or not at all. (A skip acts on nothing: its goal may hold through another
 * step. "unknown" says the outcome could not be learnt.) Matched by content: the run plans for itself.
 */
function disagreements(audit: string, plan: PlanFile, now: Live): string[] {
  const records = audit
    .split('\n')
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          imageId: string;
          ref?: string;
          outcome: string;
          reason: { code: string } | null;
        },
    );
  const out: string[] = [];
  for (const a of plan.actions) {
    if (a.type === 'remove-container') continue;
    const found = records.filter((r) => r.type === a.type && r.imageId === a.imageId && r.ref === a.ref);
    const happened = a.type === 'delete' ? !now.refs.has(a.imageId) : !(now.refs.get(a.imageId) ?? []).includes(a.ref!);
    const r = found[0];
    const idle =
      r === undefined || r.outcome === 'failed' || ['not-started', 'waits-for'].includes(r.reason?.code ?? '');
    const agrees = found.length <= 1 && (r?.outcome === 'done' ? happened : idle ? !happened : true);
    if (!agrees) out.push(`${a.type} ${a.ref ?? a.imageId}: happened ${happened}, recorded ${JSON.stringify(found)}`);
  }
  return out;
}

/** The plan's end state exactly: planned images gone, planned untags done, everything else as it was. */
function expectPlanDone(before: Live, now: Live, plan: PlanFile, context: string) {
  const p = planned(plan);
  const gone = [...before.refs.keys()].filter((id) => !now.refs.has(id)).sort();
  expect(gone, context).toEqual([...p.deletes].sort());
  for (const [id, refs] of now.refs) {
    const untagged = p.untags.get(id) ?? new Set<string>();
    const left = before.refs.get(id)!.filter((r) => !untagged.has(r));
    expect({ id, refs }, context).toEqual({ id, refs: left.filter((r) => !digestFollowsTags(r, left, untagged)) });
  }
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves true once the step lines so far ("done|skipped|failed|unknown …", stdout and stderr) satisfy `enough`; false on exit or timeout. */
  until(enough: (steps: string[]) => boolean, timeoutMs: number): Promise<boolean>;
  exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; hung: boolean }>;
}

function startApply(args: string[], home: string): Running {
  const child = spawn(process.execPath, [BIN, 'apply', ...args], {
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const stepLines = () => `${out}\n${err}`.split('\n').filter((l) => /^(done|skipped|failed|unknown) /.test(l));
  const waiters: { enough: (steps: string[]) => boolean; resolve: (ok: boolean) => void }[] = [];
  const check = () => {
    for (const w of [...waiters])
      if (w.enough(stepLines())) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(true);
      }
  };
  child.stdout.setEncoding('utf8').on('data', (c: string) => ((out += c), check()));
  child.stderr.setEncoding('utf8').on('data', (c: string) => ((err += c), check()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  void closed.then(() => waiters.splice(0).forEach((w) => w.resolve(false)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    until: (enough, timeoutMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiters.push({ enough, resolve: (ok) => (clearTimeout(timer), resolve(ok)) });
        check();
      }),
    exit: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
      const result = await Promise.race([closed, hung]);
      clearTimeout(timer);
      if (result === 'hung') {
        child.kill('SIGKILL');
        return { ...(await closed), hung: true };
      }
      return { ...result, hung: false };
    },
  };
}

/** Enough progress to interrupt: some untags and at least a few deletes done, most of the plan still to go. */
const midway = (total: number) => (steps: string[]) =>
  steps.length >= Math.max(5, Math.floor(total / 8)) && steps.filter((l) => /^done +delete /.test(l)).length >= 5;

/** A dockerd on the data root (and socket) an earlier, killed daemon of `t` left behind. */
async function restartDockerd(t: TestEngine): Promise<{ docker: Docker; stop(): Promise<void> }> {
  const socketPath = join(t.dir, 'docker.sock');
  const logPath = join(t.dir, 'dockerd-restarted.log');
  // The killed daemon's containerd runs in its own process group and may outlive it, holding the socket
  // the new daemon would dial: end it and clear its state first.
  spawnSync('pkill', ['-KILL', '-f', `containerd.*${t.dir}`]);
  await waitFor(() => Promise.resolve(spawnSync('pgrep', ['-f', `containerd.*${t.dir}`]).status !== 0), {
    timeoutMs: 10_000,
  });
  rmSync(join(t.dir, 'exec', 'containerd'), { recursive: true, force: true });
  const log = openSync(logPath, 'a');
  const child = spawn(
    which('dockerd')!,
    [
      '--data-root',
      join(t.dir, 'data'),
      '--exec-root',
      join(t.dir, 'exec'),
      '--pidfile',
      join(t.dir, 'docker.pid'),
      '--host',
      `unix://${socketPath}`,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const stop = async () => {
    await stopChild(child, 15_000);
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); // its containerd, if left
    } catch {
      // none left
    }
  };
  const ready = await waitFor(async () => (await getOnSocket(socketPath, '/_ping'))?.status === 200, {
    timeoutMs: 30_000,
    stopEarly: () => exited(child),
  });
  if (!ready) {
    await stop();
    throw new Error(`restarted dockerd not ready; log tail:\n${tailFile(logPath, 30)}`);
  }
  return {
    docker: new Docker({ socketPath, host: undefined, protocol: 'http', version: 'v1.41', timeout: 60_000 }),
    stop,
  };
}

/** One engine and a work folder (with the policy) for a describe block: started before its tests, removed after. */
interface CrashEnv {
  t: TestEngine;
  work: string;
  policyFile: string;
  /** The CLI as its own process against `t`, with HOME in the work folder. */
  cli: (args: string[]) => Promise<CommandResult>;
  /** `imgsweep plan -o` into the work folder; the plan read back. */
  planFor: (stateDir: string, name: string) => Promise<PlanFile>;
}

function crashEnv(start: () => Promise<TestEngine>, prefix: string): CrashEnv {
  const env: CrashEnv = {
    t: undefined as unknown as TestEngine,
    work: '',
    policyFile: '',
    cli: (args) =>
      runCommand(process.execPath, [BIN, ...args, '--host', env.t.host], {
        env: { PATH: process.env.PATH, HOME: env.work },
        timeoutMs: 120_000,
      }),
    planFor: async (stateDir, name) => {
      const out = join(env.work, `${name}-plan.json`);
      const r = await env.cli(['plan', '-p', env.policyFile, '-o', out, '--state-dir', stateDir]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(await readFile(out, 'utf8')) as PlanFile;
    },
  };
  beforeAll(async () => {
    env.t = await start();
    env.work = await mkdtemp(join(tmpdir(), prefix));
    env.policyFile = join(env.work, 'policy.yaml');
    await writeFile(env.policyFile, POLICY);
  });
  afterAll(async () => {
    await env.t?.stop();
    if (env.work) await rm(env.work, { recursive: true, force: true });
  });
  return env;
}

describe.skipIf(engineTestsSkipped())('apply killed mid-way, engine killed mid-apply', () => {
  const env = crashEnv(startDockerd, 'isw-crash-');

  it(
    'SIGKILL mid-apply removes nothing outside the plan; a rerun takes over the stale lock and finishes',
    () => killMidApply(env, { seed: 201, loaded: 170, chains: 12 }),
    300_000,
  );

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    '%s mid-apply: no new step starts, those under way finish, every step is reported and audited as the engine holds it, metrics are written, the lock is released, exit %i; a rerun finishes',
    async (signal, code) => {
      const { t, work, policyFile, cli, planFor } = env;
      await resetEngine(t.docker);
      await generateInventory(t, { seed: 204, loaded: 130, chains: 9, layerPool: 4, busybox: false, builds: false });
      const stateDir = await mkdtemp(join(work, 'state-term-'));
      const before = await live(t.docker);
      const plan = await planFor(stateDir, 'term');
      const audit = join(work, `${signal}-audit.jsonl`);
      const metrics = join(work, `${signal}-metrics.prom`);
      const run = startApply(
        [
          '-p',
          policyFile,
          '--yes',
          '--state-dir',
          stateDir,
          '--host',
          t.host,
          '--audit-log',
          audit,
          '--metrics-file',
          metrics,
        ],
        work,
      );
      const reached = await run.until(midway(plan.actions.length), 120_000);
      run.child.kill(signal);
      const result = await run.exit(60_000);
      const out = run.stdout();
      const err = run.stderr();
      const context = `plan: ${plan.actions.length} steps (${JSON.stringify(result)})\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`;
      expect(reached, context).toBe(true);
      expect(result, context).toMatchObject({ code, hung: false });
      expect(err, context).toContain(`imgsweep: ${signal}: finishing the steps under way and starting no more`);
      const stepLines = `${out}\n${err}`.split('\n').filter((l) => /^(done|skipped|failed|unknown) /.test(l));
      expect(stepLines.length, `every step of the plan is reported\n${context}`).toBe(plan.actions.length);
      const notStarted = stepLines.filter((l) => l.includes(`not started: the run stopped on ${signal}`)).length;
      expect(notStarted, context).toBeGreaterThan(0);
      // The audit log holds every step, those not started included.
      const audited = (await readFile(audit, 'utf8')).split('\n').filter(Boolean);
      expect(audited.length, context).toBe(plan.actions.length);
      expect(audited.filter((l) => l.includes('"not-started"')).length, context).toBe(notStarted);
      expect(await readFile(metrics, 'utf8'), context).toContain(`imgsweep_last_run_success{engine="${t.host}"} 0\n`);
      const stopped = await live(t.docker);
      expectWithinPlan(before, stopped, plan, context);
      const lost = disagreements(await readFile(audit, 'utf8'), plan, stopped);
      expect(lost, context).toEqual([]);
      // The lock was released (its epoch is done, none is held), and a rerun finishes the job.
      expect(
        (await readdir(stateDir)).filter((f) => f.endsWith('.lock')),
        context,
      ).toEqual([]);
      expect((await readdir(stateDir)).filter((f) => f.endsWith('.done')).length, context).toBeGreaterThan(0);
      const rerun = await cli(['apply', '-p', policyFile, '--yes', '--state-dir', stateDir]);
      const context2 = `${context}\n\nrerun stdout:\n${rerun.stdout.slice(-3000)}\nrerun stderr:\n${rerun.stderr}`;
      expect(rerun.code, context2).toBe(0);
      expectPlanDone(before, await live(t.docker), plan, context2);
      recordRun({
        fault: `${signal} mid-apply`,
        engine: 'docker',
        steps: plan.actions.length,
        lost: lost.length,
        converged: true,
        exitCode: result.code ?? -1,
      });
    },
    300_000,
  );

  it("a second signal ends apply at once, with the signal's exit code; a rerun takes over its lock and finishes", async () => {
    const { t, work, policyFile, cli, planFor } = env;
    await resetEngine(t.docker);
    await generateInventory(t, { seed: 205, loaded: 90, chains: 6, layerPool: 4, busybox: false, builds: false });
    const stateDir = await mkdtemp(join(work, 'state-int-'));
    const before = await live(t.docker);
    const plan = await planFor(stateDir, 'int');
    const run = startApply(['-p', policyFile, '--yes', '--state-dir', stateDir, '--host', t.host], work);
    const reached = await run.until(midway(plan.actions.length), 120_000);
    run.child.kill('SIGINT');
    await run.until(() => run.stderr().includes('SIGINT: finishing'), 10_000);
    run.child.kill('SIGINT');
    const result = await run.exit(10_000);
    const context = `(${JSON.stringify(result)})\nstdout:\n${run.stdout().slice(-2000)}\nstderr:\n${run.stderr()}`;
    expect(reached, context).toBe(true);
    expect(result, context).toMatchObject({ code: 130, hung: false });
    expectWithinPlan(before, await live(t.docker), plan, context);
    const rerun = await cli(['apply', '-p', policyFile, '--yes', '--state-dir', stateDir]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expectPlanDone(before, await live(t.docker), plan, rerun.stderr);
  }, 300_000);

  it('an engine killed mid-apply ends the run with exit 1, done and failed steps reported, no stack trace; a restarted engine is consistent and a rerun finishes', async () => {
    const { t, work, policyFile, cli, planFor } = env;
    await resetEngine(t.docker);
    await generateInventory(t, { seed: 202, loaded: 130, chains: 9, layerPool: 4, busybox: false, builds: false });
    const stateDir = await mkdtemp(join(work, 'state-engine-'));
    const before = await live(t.docker);
    const plan = await planFor(stateDir, 'engine');

    const started = Date.now();
    const audit = join(work, 'engine-audit.jsonl');
    const run = startApply(
      ['-p', policyFile, '--yes', '--state-dir', stateDir, '--host', t.host, '--audit-log', audit],
      work,
    );
    const reached = await run.until(midway(plan.actions.length), 120_000);
    // The whole engine goes: dockerd and the containerd it started (its process group).
    const pid = Number((await readFile(join(t.dir, 'docker.pid'), 'utf8')).trim());
    process.kill(-pid, 'SIGKILL');
    const killedAt = Date.now();
    const result = await run.exit(60_000);
    const out = run.stdout();
    const err = run.stderr();
    const context = `plan: ${plan.actions.length} steps; engine killed after ${killedAt - started} ms; apply ended ${Date.now() - killedAt} ms later (${JSON.stringify(result)})\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`;
    expect(reached, context).toBe(true);
    expect(result.hung, `apply did not end within 60 s of the engine going away\n${context}`).toBe(false);
    expect(result.code, context).toBe(1);
    // Which steps were done and which failed: step lines on stdout (done, skipped) and stderr (failed), then the summary.
    expect(out, context).toMatch(/^done +untag /m);
    expect(out, context).toMatch(/^done +delete /m);
    // In flight when the engine went: unknown (no look could tell); after: failed (the look before the step failed).
    expect(err, context).toMatch(/^(failed|unknown) /m);
    expect(out, context).toMatch(/^Applied on .*; \d+ skipped, \d+ failed(, \d+ unknown)?; /m);
    const steps = (`${out}\n${err}`.match(/^(done|skipped|failed|unknown) /gm) ?? []).length;
    expect(steps, `every step of the plan is reported\n${context}`).toBe(plan.actions.length);
    expect(err, context).not.toMatch(/unhandled|internal error|\n\s+at .+:\d+:\d+/i);

    // Optional part: a new dockerd on the same data root finds a consistent store; a rerun finishes the job.
    const again = await restartDockerd(t);
    try {
      const after = await live(again.docker);
      expect(expectWithinPlan(before, after, plan, context).gone.length, context).toBeGreaterThanOrEqual(5);
      // What the audit log says of each step is what the restarted engine holds.
      const lost = disagreements(await readFile(audit, 'utf8'), plan, after);
      expect(lost, context).toEqual([]);
      for (const id of after.refs.keys()) await again.docker.getImage(id).inspect();
      const rerun = await cli(['apply', '-p', policyFile, '--yes', '--state-dir', stateDir]);
      const context2 = `${context}\n\nrerun stdout:\n${rerun.stdout.slice(-3000)}\nrerun stderr:\n${rerun.stderr}`;
      expect(rerun.code, context2).toBe(0);
      expectPlanDone(before, await live(again.docker), plan, context2);
      recordRun({
        fault: 'engine killed mid-apply, then restarted',
        engine: 'docker',
        steps: plan.actions.length,
        lost: lost.length,
        converged: true,
        exitCode: result.code ?? -1,
      });
    } finally {
      await again.stop();
    }
  }, 300_000);
});

// The same on Podman: its compatible API, its own storage and answers (500 for several tags, qualified names).
describe.skipIf(engineTestsSkipped())('apply killed mid-way, on Podman', () => {
  const env = crashEnv(startPodman, 'isw-crash-podman-');

  it(
    'SIGKILL mid-apply removes nothing outside the plan; a rerun takes over the stale lock and finishes',
    () => killMidApply(env, { seed: 203, loaded: 80, chains: 6 }),
    300_000,
  );
});

/**
 * Kills `imgsweep apply` (SIGKILL) half-way through a large mixed plan on engine `t`: nothing outside the plan is
 * gone, every image is readable, the lock is left behind; a rerun takes it over and finishes, and a third run
 * finds nothing to do.
 */
async function killMidApply(env: CrashEnv, size: { seed: number; loaded: number; chains: number }): Promise<void> {
  const { t, work, policyFile, cli, planFor } = env;
  await generateInventory(t, { ...size, layerPool: 4, busybox: false, builds: false });
  const stateDir = await mkdtemp(join(work, 'state-kill-'));
  const before = await live(t.docker);
  const plan = await planFor(stateDir, 'kill');
  const p = planned(plan);
  // A big mixed plan: untags on kept and on deleted images, deletes, parents after children.
  expect(p.deletes.size).toBeGreaterThan(size.loaded * 0.6);
  expect(plan.actions.filter((a) => a.type === 'untag' && !p.deletes.has(a.imageId)).length).toBeGreaterThan(10);
  expect(plan.actions.filter((a) => a.type === 'untag' && p.deletes.has(a.imageId)).length).toBeGreaterThan(10);
  expect(before.refs.size - p.deletes.size).toBeGreaterThan(20);

  const started = Date.now();
  const run = startApply(['-p', policyFile, '--yes', '--state-dir', stateDir, '--host', t.host], work);
  const reached = await run.until(midway(plan.actions.length), 120_000);
  run.child.kill('SIGKILL');
  const first = await run.exit(30_000);
  const context = `plan: ${plan.actions.length} steps; killed after ${Date.now() - started} ms\nstdout:\n${run.stdout().slice(-3000)}\nstderr:\n${run.stderr()}`;
  expect(reached, `apply never got midway (some untags and 5 deletes done)\n${context}`).toBe(true);
  expect(first.signal, `apply ended before it was killed\n${context}`).toBe('SIGKILL');

  // Requests the killed process had already sent still finish inside the daemon: let them settle.
  await new Promise((r) => setTimeout(r, 1_000));
  // Half done, and only planned things happened.
  const mid = await live(t.docker);
  const progress = expectWithinPlan(before, mid, plan, context);
  // At least the five deletes it reported done before it was killed really happened.
  expect(progress.gone.length, context).toBeGreaterThanOrEqual(5);
  expect(progress.gone.length, `the killed run already finished everything\n${context}`).toBeLessThan(p.deletes.size);
  for (const id of mid.refs.keys()) await t.docker.getImage(id).inspect(); // every image readable, none half-deleted

  // The killed run left its lock behind.
  const locks = (await readdir(stateDir)).filter((f) => f.endsWith('.lock'));
  expect(locks).toHaveLength(1);
  const holder = JSON.parse(await readFile(join(stateDir, locks[0]!), 'utf8')) as { pid: number };
  expect(holder.pid).toBe(run.child.pid);

  // The rerun takes the stale lock over at once and finishes the job.
  const rerun = await cli(['apply', '-p', policyFile, '--yes', '--state-dir', stateDir]);
  const context2 = `${context}\n\nrerun stdout:\n${rerun.stdout.slice(-3000)}\nrerun stderr:\n${rerun.stderr}`;
  expect(rerun.code, context2).toBe(0);
  expectPlanDone(before, await live(t.docker), plan, context2);
  expect(
    (await readdir(stateDir)).filter((f) => f.includes('.lock')),
    'the rerun released the lock',
  ).toEqual([]);

  // And there is nothing left to do.
  const again = await cli(['apply', '-p', policyFile, '--yes', '--state-dir', stateDir]);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/^Nothing to do/m);
}
