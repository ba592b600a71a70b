/**
 * The fault runs of the fault-injection suite (test/integration/faults.test.ts on dockerd,
 * test/integration/faults-podman.test.ts on a Podman service): every fault is one run of `apply PLAN.json`
 * through the fault proxy (test/support/fault-proxy.ts), then the same invariants:
 * - nothing outside the plan is deleted (images, references, containers);
 * - every step's record (the --json-lines output and the audit log) matches the engine: a step recorded done did
 *   happen, one that happened is recorded done (or "unknown", when no look could tell);
 * - the metrics file is written, the lock released;
 * - the exit code is the documented one: 0 when every step is done or skipped, 1 when one failed or is
 *   unknown or the run could not start;
 * - a rerun (`apply -p POLICY` straight to the engine) reaches the plan's end state.
 * With IMGSWEEP_RELIABILITY_OUT set, each run is recorded for docs/reliability.md (scripts/reliability.mjs).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from './cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from './dockerd.js';
import { startFaultProxy, type FaultKind, type FaultProxy, type FaultRule } from './fault-proxy.js';
import { loadImages } from './fixtures.js';
import { startPodman } from './podman.js';
import { recordRun } from './reliability.js';

const OLD = '2020-01-01T00:00:00Z';
/** --timeout for the runs through the proxy: Podman answers slowly on a loaded machine (/version runs binaries). */
const TIMEOUT = { docker: '2s', podman: '15s' } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fullId = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);

interface Scenario {
  name: string;
  rules: FaultRule[];
}

const WRITE_FAULTS: FaultKind[] = [
  'reset-before',
  'reset-after',
  'http-500',
  'http-409',
  'http-404',
  'delay',
  'truncated',
  'malformed',
];
const WRITES = ['DELETE /images/{id}', 'DELETE /images/{ref}', 'DELETE /containers/{id}'];
const READ_FAULTS: [string, FaultKind[]][] = [
  ['GET /images/json', ['reset-before', 'http-500', 'delay', 'truncated', 'malformed']],
  ['GET /containers/json', ['reset-before', 'http-500', 'malformed']],
  ['GET /system/df', ['busy-df']],
];
const WORDS: Record<FaultKind, string> = {
  'reset-before': 'reset before forwarding',
  'reset-after': 'reset after forwarding',
  'http-500': 'HTTP 500',
  'http-409': 'HTTP 409',
  'http-404': 'HTTP 404',
  delay: `answer held past --timeout ${TIMEOUT.docker}`,
  slow: 'answer 1.5 s late',
  truncated: 'body cut short',
  malformed: 'malformed body',
  'busy-df': '500 "a disk usage operation is already running", every call',
};

const one = (endpoint: string, kind: FaultKind, calls: number[] | 'every' = [1]): Scenario => ({
  name: `${WORDS[kind]}: ${endpoint}`,
  rules: [{ endpoint, calls, kind }],
});

const DOCKER_SCENARIOS: Scenario[] = [
  ...WRITES.flatMap((endpoint) => WRITE_FAULTS.map((kind) => one(endpoint, kind))),
  ...READ_FAULTS.flatMap(([endpoint, kinds]) => kinds.map((kind) => one(endpoint, kind, 'every'))),
  {
    name: 'reset after forwarding: DELETE /images/{id}, then every look fails',
    rules: [
      { endpoint: 'DELETE /images/{id}', calls: [1], kind: 'reset-after' },
      { endpoint: 'GET /images/{ref}/json', calls: 'every', kind: 'reset-before' },
    ],
  },
];

// Podman (slower to drive): a delete cut off before and after forwarding, refused, a container removal that
// fails, and a listing that fails.
const PODMAN_SCENARIOS: Scenario[] = [
  one('DELETE /images/{id}', 'reset-before'),
  one('DELETE /images/{id}', 'reset-after'),
  one('DELETE /images/{id}', 'http-409'),
  one('DELETE /containers/{id}', 'http-500'),
  one('GET /images/json', 'http-500', 'every'),
];

interface EngineKind {
  name: 'docker' | 'podman';
  start(): Promise<TestEngine>;
  scenarios: Scenario[];
  /** The engine's own spelling of a name the test gave (Podman qualifies short names). */
  spelled: (ref: string) => string;
}

const ENGINES: EngineKind[] = [
  { name: 'docker', start: startDockerd, scenarios: DOCKER_SCENARIOS, spelled: (r) => r },
  { name: 'podman', start: startPodman, scenarios: PODMAN_SCENARIOS, spelled: (r) => `localhost/${r}` },
];

/** What one scenario's engine holds: three images the plan removes (one with two names, one a container uses), one it keeps. */
interface Fixture {
  prefix: string;
  multi: string;
  solo: string;
  used: string;
  keep: string;
  container: string;
  policy: string;
}

interface StepRecord {
  step: number;
  type: 'delete' | 'untag' | 'remove-container';
  imageId: string;
  ref?: string;
  containerId?: string;
  outcome: 'done' | 'skipped' | 'failed' | 'unknown';
  reason: { code: string } | null;
}
/** Registers the fault runs on one engine kind: each test file runs one (its own worker, its own engine). */
export function faultSuite(name: EngineKind['name']): void {
  const E = ENGINES.find((e) => e.name === name)!;
  describe.skipIf(engineTestsSkipped())(`faults between imgsweep and the engine, on ${name}`, () => {
    let t: TestEngine;
    let proxy: FaultProxy;
    let dir: string;
    const fixtures = new Map<string, Fixture>();

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'isw-faults-'));
      // No engine, or one that does not come up, fails here with the reason: never a silent skip.
      t = await E.start();
      proxy = await startFaultProxy(t.host.replace(/^unix:\/\//, ''), dir);
      const made = await makeFixtures(E.scenarios.map((_, n) => `f${n + 1}`));
      E.scenarios.forEach((s, n) => fixtures.set(s.name, made[n]!));
      // The containers must have been stopped (created) for the policy's stoppedFor.
      await sleep(1_100);
    }, 120_000);

    afterAll(async () => {
      await proxy?.close();
      await t?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** Every scenario's images, loaded at once (one archive), then each one's stopped container and policy. */
    async function makeFixtures(prefixes: string[]): Promise<Fixture[]> {
      const ids = await loadImages(
        t.docker,
        prefixes.flatMap((prefix) => [
          { tags: [`${prefix}/multi:1`, `${prefix}/multi:2`], created: OLD },
          { tags: [`${prefix}/solo:1`], created: OLD },
          { tags: [`${prefix}/used:1`], created: OLD },
          { tags: [`${prefix}/keep:1`], created: OLD },
        ]),
      );
      const out: Fixture[] = [];
      for (const [n, prefix] of prefixes.entries()) {
        const [multi, solo, used, keep] = ids.slice(4 * n, 4 * n + 4) as [string, string, string, string];
        // Created, never started: a stopped container (its command need not exist).
        const container = (
          await t.docker.createContainer({ Image: used, Cmd: ['/never-run'], HostConfig: { NetworkMode: 'none' } })
        ).id;
        const policy = join(dir, `${prefix}.yaml`);
        await writeFile(
          policy,
          `version: 1\nname: faults\nprotect: { repositories: ["${prefix}/keep"] }\ncontainers: { stopped: remove, stoppedFor: 1s }\nrules:\n  - name: sel\n    match: { repositories: ["${prefix}/**"] }\n`,
        );
        out.push({ prefix, multi, solo, used, keep, container, policy });
      }
      return out;
    }

    /** Every image with its names, and every container, on the engine (straight, not through the proxy). */
    async function engineState(docker: Docker = t.docker) {
      const images = new Map<string, string[]>();
      for (const i of await docker.listImages({ all: true }))
        images.set(
          fullId(i.Id),
          [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])].filter((r) => !r.includes('<none>')),
        );
      const containers = new Set((await docker.listContainers({ all: true })).map((c) => c.Id));
      return { images, containers };
    }

    it.each(E.scenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
      const f = fixtures.get(scenario.name)!;
      const stateDir = join(dir, `${f.prefix}-state`);
      const planFile = join(dir, `${f.prefix}-plan.json`);
      const audit = join(dir, `${f.prefix}-audit.jsonl`);
      const metrics = join(dir, `${f.prefix}.prom`);
      const made = await runCli([
        'plan',
        '-p',
        f.policy,
        '--host',
        t.host,
        '--state-dir',
        stateDir,
        '-o',
        planFile,
        '--quiet',
      ]);
      expect(made.code, made.stderr).toBe(0);
      const plan = JSON.parse(await readFile(planFile, 'utf8')) as Plan;
      const deletes = new Set(plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId));
      expect(deletes).toEqual(new Set([f.multi, f.solo, f.used]));
      expect(plan.actions.map((a) => a.type).sort()).toEqual([
        'delete',
        'delete',
        'delete',
        'remove-container',
        'untag',
      ]);
      const before = await engineState();

      proxy.arm(scenario.rules);
      const calls = proxy.calls.length;
      const r = await runCli([
        'apply',
        planFile,
        '--host',
        proxy.host,
        '--timeout',
        TIMEOUT[E.name],
        '--state-dir',
        stateDir,
        '--yes',
        '--json-lines',
        '--audit-log',
        audit,
        '--metrics-file',
        metrics,
      ]);
      proxy.arm([]);
      const context = `${scenario.name}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\ncalls:\n${proxy.calls
        .slice(calls)
        .map((c) => `${c.fault ?? 'ok'} ${c.endpoint} ${c.path}`)
        .join('\n')}`;
      expect(
        proxy.calls.slice(calls).some((c) => c.fault !== null),
        `the fault was never met\n${context}`,
      ).toBe(true);
      expect(r.stderr, context).not.toMatch(/^\s+at /m); // no stack trace

      const after = await engineState();
      const planned = plannedEnd(plan, before);
      // Nothing outside the plan: every image, name and container the plan does not remove is still there.
      for (const [id, refs] of before.images) {
        if (deletes.has(id)) continue;
        expect(after.images.has(id), `image ${id} deleted outside the plan\n${context}`).toBe(true);
        for (const ref of planned.keptRefs(id, refs))
          expect(after.images.get(id), `${ref} removed outside the plan\n${context}`).toContain(ref);
      }
      for (const c of before.containers)
        if (c !== f.container) expect(after.containers.has(c), `container ${c} removed\n${context}`).toBe(true);

      // Every step's record matches the engine.
      const printed = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((x) => 'type' in x) as unknown as StepRecord[];
      const audited = (await readFile(audit, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StepRecord);
      expect(audited, context).toEqual(printed);
      let lost = 0;
      const lostSteps: string[] = [];
      plan.actions.forEach((a, i) => {
        const records = audited.filter((s) => s.step === i);
        const happened =
          a.type === 'delete'
            ? !after.images.has(a.imageId)
            : a.type === 'untag'
              ? !(after.images.get(a.imageId) ?? []).includes(a.ref!)
              : !after.containers.has(a.containerId!);
        const record = records[0];
        const agrees =
          records.length <= 1 &&
          (record === undefined
            ? !happened
            : record.outcome === 'unknown' ||
              (record.outcome === 'done' ? happened : !happened || record.reason?.code === 'image-gone'));
        if (!agrees) {
          lost++;
          lostSteps.push(
            `${i} ${a.type} ${a.ref ?? a.imageId}: happened ${happened}, recorded ${JSON.stringify(records)}`,
          );
        }
      });

      // The exit code, the metrics file and the lock.
      const outcomes = printed.map((s) => s.outcome);
      const expected =
        outcomes.some((o) => o === 'failed' || o === 'unknown') || printed.length < plan.actions.length ? 1 : 0;
      const prom = await readFile(metrics, 'utf8');
      const lockFiles = (await readdir(stateDir)).filter((name) => name.endsWith('.lock'));

      // A rerun straight to the engine reaches the plan's end state.
      const rerun = await runCli([
        'apply',
        '-p',
        f.policy,
        '--host',
        t.host,
        '--state-dir',
        stateDir,
        '--yes',
        '--quiet',
      ]);
      const end = await engineState();
      const converged =
        rerun.code === 0 &&
        [...deletes].every((id) => !end.images.has(id)) &&
        !end.containers.has(f.container) &&
        (end.images.get(f.keep) ?? []).includes(E.spelled(`${f.prefix}/keep:1`));
      recordRun({
        fault: scenario.name,
        engine: E.name,
        steps: plan.actions.length,
        lost,
        converged,
        exitCode: r.code,
      });

      expect(lostSteps, context).toEqual([]);
      expect(r.code, context).toBe(expected);
      expect(prom, context).toMatch(new RegExp(`^imgsweep_last_run_success\\{engine="[^"]+"\\} ${1 - expected}$`, 'm'));
      expect(lockFiles, context).toEqual([]);
      expect(converged, `${context}\nrerun: exit ${rerun.code}\n${rerun.stderr}`).toBe(true);
    });
  });
}

/** The references an image keeps after the plan (those its untags and delete do not remove). */
function plannedEnd(plan: Plan, before: { images: Map<string, string[]> }) {
  const untagged = new Set(plan.actions.filter((a) => a.type === 'untag').map((a) => `${a.imageId} ${a.ref}`));
  return {
    keptRefs: (id: string, refs: string[]) => refs.filter((ref) => !untagged.has(`${id} ${ref}`)),
    images: before.images,
  };
}
