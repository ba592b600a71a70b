/**
 * Several engines in one run, on two real dockerds with different fixtures (and, at the end, a dockerd with a
 * Podman service): a plan set, apply per engine with its
 * own lock, metrics labelled by engine, an unreachable third engine and a held lock that spoil only their engine.
 * The two daemons report the same /info ID: their engine keys must still differ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contextId } from '../../src/engine/contexts.js';
import type { PlanSet } from '../../src/plan/plan-set.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, startTogether, type TestEngine } from '../support/dockerd.js';
import { loadImage } from '../support/fixtures.js';
import { startPodman, type TestPodman } from '../support/podman.js';

const OLD = '2020-01-01T00:00:00Z';

// Old images in isw-multi/* go, except those tagged keep.
const POLICY = `version: 1
name: multi
protect:
  tags: ["keep"]
rules:
  - name: old
    match: { repositories: ["isw-multi/**"] }
    olderThan: 30d
`;

interface Fixture {
  /** Images the policy deletes. */
  doomed: string[];
  /** Images it keeps. */
  kept: string[];
}

describe.skipIf(engineTestsSkipped())('several engines in one run', () => {
  let a: TestEngine;
  let b: TestEngine;
  let dir: string;
  let policy: string;
  let counter = 0;
  let sleeper: ChildProcess | null = null;

  const stateDir = () => join(dir, 'state');
  const imgsweep = (args: string[]) =>
    runCli([...args, '--state-dir', stateDir()], { env: { DOCKER_CONFIG: join(dir, 'docker-config') } });

  /** Different fixtures on each engine: A has two doomed images, B one, each a kept one. */
  async function fixtures(): Promise<{ a: Fixture; b: Fixture }> {
    const n = ++counter;
    const load = (docker: Docker, tag: string) => loadImage(docker, { tags: [tag], created: OLD });
    return {
      a: {
        doomed: [await load(a.docker, `isw-multi/a:old-${n}`), await load(a.docker, `isw-multi/a2:old-${n}`)],
        kept: [await load(a.docker, `isw-multi/a:keep`)],
      },
      b: { doomed: [await load(b.docker, `isw-multi/b:old-${n}`)], kept: [await load(b.docker, `isw-multi/b:keep`)] },
    };
  }

  async function ids(docker: Docker): Promise<Set<string>> {
    return new Set((await docker.listImages({ all: true })).map((i) => i.Id));
  }

  /** Whether every doomed image is gone and every kept one still there. */
  async function expectApplied(docker: Docker, f: Fixture, applied: boolean): Promise<void> {
    const present = await ids(docker);
    for (const id of f.doomed) expect(present.has(id), `${id} ${applied ? 'deleted' : 'still there'}`).toBe(!applied);
    for (const id of f.kept) expect(present.has(id), `${id} kept`).toBe(true);
  }

  async function planSet(...extra: string[]): Promise<{ set: PlanSet; file: string; code: number; stderr: string }> {
    const file = join(dir, `set-${++counter}.json`);
    const r = await imgsweep([
      'plan',
      '-p',
      policy,
      '--host',
      a.host,
      '--host',
      b.host,
      '-o',
      file,
      '--quiet',
      ...extra,
    ]);
    return { set: JSON.parse(await readFile(file, 'utf8')) as PlanSet, file, code: r.code, stderr: r.stderr };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-multi-'));
    await mkdir(join(dir, 'docker-config'));
    policy = join(dir, 'policy.yaml');
    await writeFile(policy, POLICY);
    [a, b] = await startTogether<[TestEngine, TestEngine]>(startDockerd(), startDockerd());
  });

  afterEach(async () => {
    if (sleeper) {
      sleeper.kill('SIGKILL');
      sleeper = null;
    }
    await rm(stateDir(), { recursive: true, force: true });
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plan --host A --host B: a plan set of two plans with different engine keys, and a text section per engine', async () => {
    const f = await fixtures();
    const { set, code, stderr } = await planSet();
    expect(code, stderr).toBe(0);
    expect(set.kind).toBe('imgsweep-plan-set');
    expect(set.plans.map((p) => p.engine.host)).toEqual([a.host, b.host]);
    const [pa, pb] = set.plans as [Plan, Plan];
    // Same daemon binary, same host: same /info ID and name here, yet two engines.
    expect(pa.engine.key).not.toBe(pb.engine.key);
    const deletes = (p: Plan) =>
      p.actions
        .filter((x) => x.type === 'delete')
        .map((x) => x.imageId)
        .sort();
    expect(deletes(pa)).toEqual([...f.a.doomed].sort());
    expect(deletes(pb)).toEqual([...f.b.doomed].sort());

    const text = await imgsweep(['plan', '-p', policy, '--host', a.host, '--host', b.host]);
    expect(text.code, text.stderr).toBe(0);
    const sections = text.stdout.split(/^=== engine /m).slice(1);
    expect(sections).toHaveLength(2);
    expect(sections[0]).toMatch(new RegExp(`^\\S* at ${a.host} ===\\nimgsweep plan: `));
    expect(sections[1]).toMatch(new RegExp(`^\\S* at ${b.host} ===\\nimgsweep plan: `));
    expect(sections[0]).toContain('Delete (2');
    expect(sections[1]).toContain('Delete (1');

    // Clean up for the next test: nothing was changed by planning.
    await expectApplied(a.docker, f.a, false);
    await expectApplied(b.docker, f.b, false);
    await imgsweep(['apply', '-p', policy, '--host', a.host, '--host', b.host, '--yes', '--quiet']);
  });

  it('apply -p --host A --host B --yes --metrics-file: applies both, one metrics sample per engine', async () => {
    const f = await fixtures();
    const metrics = join(dir, 'metrics.prom');
    const r = await imgsweep([
      'apply',
      '-p',
      policy,
      '--host',
      a.host,
      '--host',
      b.host,
      '--yes',
      '--metrics-file',
      metrics,
    ]);
    expect(r.code, r.stderr).toBe(0);
    await expectApplied(a.docker, f.a, true);
    await expectApplied(b.docker, f.b, true);
    const text = await readFile(metrics, 'utf8');
    for (const name of [
      'imgsweep_last_run_success',
      'imgsweep_last_run_images_deleted',
      'imgsweep_last_run_timestamp_seconds',
    ]) {
      const samples = text.split('\n').filter((l) => l.startsWith(`${name}{`));
      expect(samples.map((l) => /engine="([^"]*)"/.exec(l)?.[1]).sort(), name).toEqual([a.host, b.host].sort());
    }
    expect(text).toContain(`imgsweep_last_run_images_deleted{engine="${a.host}"} 2`);
    expect(text).toContain(`imgsweep_last_run_images_deleted{engine="${b.host}"} 1`);
    expect(text).toContain(`imgsweep_last_run_success{engine="${a.host}"} 1`);
  });

  it('apply PLANSET.json --yes applies each plan to its own engine', async () => {
    const f = await fixtures();
    const { file, code, stderr } = await planSet();
    expect(code, stderr).toBe(0);
    // One engine named for a set of two is a mistake, not something to ignore.
    const one = await imgsweep(['apply', file, '--host', a.host, '--yes']);
    expect(one.code).toBe(2);
    expect(one.stderr).toBe('imgsweep: apply: the plan set holds 2 plans but 1 engine was named\n');
    const r = await runCli(['apply', file, '--yes', '--state-dir', stateDir()], {
      env: { DOCKER_CONFIG: join(dir, 'docker-config') },
    });
    expect(r.code, r.stderr).toBe(0);
    await expectApplied(a.docker, f.a, true);
    await expectApplied(b.docker, f.b, true);
  });

  it('--context names engines too: a plan set by context, applied to the contexts named again in order', async () => {
    const config = join(dir, 'docker-config');
    for (const [name, engine] of [
      ['isw-a', a],
      ['isw-b', b],
    ] as const) {
      const id = contextId(name);
      await mkdir(join(config, 'contexts', 'meta', id), { recursive: true });
      await writeFile(
        join(config, 'contexts', 'meta', id, 'meta.json'),
        JSON.stringify({
          Name: name,
          Metadata: {},
          Endpoints: { docker: { Host: engine.host, SkipTLSVerify: false } },
        }),
      );
    }
    const f = await fixtures();
    const file = join(dir, 'set-contexts.json');
    const planned = await imgsweep([
      'plan',
      '-p',
      policy,
      '--context',
      'isw-a',
      '--context',
      'isw-b',
      '-o',
      file,
      '--quiet',
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    expect((JSON.parse(await readFile(file, 'utf8')) as PlanSet).plans.map((p) => p.engine.host)).toEqual([
      a.host,
      b.host,
    ]);
    // The same engine by address and by context is named once.
    const twice = await imgsweep(['plan', '-p', policy, '--host', a.host, '--context', 'isw-a']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toBe(
      `imgsweep: ${a.host} and context "isw-a" are the same engine (${a.host}): name it once\n`,
    );
    // Named in the other order, each plan meets the wrong engine: refused (exit 3), nothing changed.
    const swapped = await imgsweep(['apply', file, '--context', 'isw-b', '--context', 'isw-a', '--yes', '--quiet']);
    expect(swapped.code).toBe(3);
    await expectApplied(a.docker, f.a, false);
    await expectApplied(b.docker, f.b, false);
    const r = await imgsweep(['apply', file, '--context', 'isw-a', '--context', 'isw-b', '--yes', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    await expectApplied(a.docker, f.a, true);
    await expectApplied(b.docker, f.b, true);
  });

  it('an unreachable third engine: the other two complete, exit 1, one stderr line naming it', async () => {
    const bad = 'unix:///nonexistent.sock';
    const f = await fixtures();
    const planned = await imgsweep([
      'plan',
      '-p',
      policy,
      '--host',
      a.host,
      '--host',
      b.host,
      '--host',
      bad,
      '--format',
      'json',
    ]);
    expect(planned.code).toBe(1);
    expect((JSON.parse(planned.stdout) as PlanSet).plans.map((p) => p.engine.host)).toEqual([a.host, b.host]);
    expect(planned.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^imgsweep: \\[${bad}\\] .*${bad}`)),
    ]);

    const metrics = join(dir, 'metrics-bad.prom');
    const r = await imgsweep([
      'apply',
      '-p',
      policy,
      '--host',
      a.host,
      '--host',
      b.host,
      '--host',
      bad,
      '--yes',
      '--quiet',
      '--metrics-file',
      metrics,
    ]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^imgsweep: \\[${bad}\\] cannot reach the container engine at ${bad}`));
    await expectApplied(a.docker, f.a, true);
    await expectApplied(b.docker, f.b, true);
    const text = await readFile(metrics, 'utf8');
    expect(text).toContain(`imgsweep_last_run_success{engine="${bad}"} 0`);
    expect(text).toContain(`imgsweep_last_run_success{engine="${a.host}"} 1`);
  });

  it('a lock held on engine A: A exits 3, B completes, the run exits 3', async () => {
    const f = await fixtures();
    const { set } = await planSet();
    const keyA = set.plans[0]!.engine.key;
    // A live process that is not this one holds A's lock.
    sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    await mkdir(stateDir(), { recursive: true });
    const lock = join(stateDir(), `${keyA}.lock`);
    await writeFile(
      lock,
      `${JSON.stringify({ pid: sleeper.pid, host: hostname(), startedAt: new Date().toISOString(), command: 'imgsweep apply (test)' })}\n`,
    );
    const r = await imgsweep(['apply', '-p', policy, '--host', a.host, '--host', b.host, '--yes', '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        new RegExp(`^imgsweep: \\[${a.host}\\] another run holds the lock ${lock}: pid ${sleeper.pid}`),
      ),
    ]);
    await expectApplied(a.docker, f.a, false);
    await expectApplied(b.docker, f.b, true);
    // The lock is still the holder's.
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: sleeper.pid });
  });
});

// A Docker and a Podman engine in one run: a plan set across engine kinds, applied with one command.
describe.skipIf(engineTestsSkipped())('a dockerd and a Podman service in one run', () => {
  let d: TestEngine;
  let p: TestPodman;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-multi-kinds-'));
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    [d, p] = await startTogether<[TestEngine, TestPodman]>(startDockerd(), startPodman());
  });

  afterAll(async () => {
    await Promise.all([d?.stop(), p?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans both (names as each engine spells them), applies the set, and labels the metrics by engine', async () => {
    const imgsweep = (args: string[]) =>
      runCli([...args, '--state-dir', join(dir, 'state')], { env: { DOCKER_CONFIG: join(dir, 'docker-config') } });
    const load = (docker: Docker, tag: string) => loadImage(docker, { tags: [tag], created: OLD });
    const doomed = { d: await load(d.docker, 'isw-multi/x:old'), p: await load(p.docker, 'isw-multi/x:old') };
    const kept = { d: await load(d.docker, 'isw-multi/x:keep'), p: await load(p.docker, 'isw-multi/x:keep') };
    const file = join(dir, 'set.json');
    const made = await imgsweep([
      'plan',
      '-p',
      join(dir, 'policy.yaml'),
      '--host',
      d.host,
      '--host',
      p.host,
      '-o',
      file,
      '--quiet',
    ]);
    expect(made).toMatchObject({ code: 0, stderr: '' });
    const set = JSON.parse(await readFile(file, 'utf8')) as PlanSet;
    expect(set.plans.map((x) => [x.engine.kind, x.engine.host])).toEqual([
      ['docker', d.host],
      ['podman', p.host],
    ]);
    const deleted = (x: Plan) =>
      x.actions.filter((a) => a.type === 'delete').map((a) => [a.imageId, a.refs!.filter((r) => !r.includes('@'))]);
    expect(deleted(set.plans[0]!)).toEqual([[doomed.d, ['isw-multi/x:old']]]);
    expect(deleted(set.plans[1]!)).toEqual([[doomed.p, ['localhost/isw-multi/x:old']]]);

    const metrics = join(dir, 'imgsweep.prom');
    const r = await imgsweep(['apply', file, '--yes', '--metrics-file', metrics]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const fullIds = async (docker: Docker) =>
      new Set(
        (await docker.listImages({ all: true })).map((i) => (i.Id.startsWith('sha256:') ? i.Id : `sha256:${i.Id}`)),
      );
    for (const [docker, gone, stays] of [
      [d.docker, doomed.d, kept.d],
      [p.docker, doomed.p, kept.p],
    ] as const) {
      const now = await fullIds(docker);
      expect(now.has(gone)).toBe(false);
      expect(now.has(stays)).toBe(true);
    }
    const text = await readFile(metrics, 'utf8');
    for (const host of [d.host, p.host]) {
      expect(text).toContain(`imgsweep_last_run_success{engine="${host}"} 1`);
      expect(text).toContain(`imgsweep_last_run_images_deleted{engine="${host}"} 1`);
    }
  });
});
