import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

// Images of examples/inventory.json (see `node scripts/make-example-inventory.mjs --explain`), under policies/ci-runner.yaml.
const INVENTORY = 'examples/inventory.json';
const NOW = '2026-11-27T12:00:00Z';
const POLICY = 'policies/ci-runner.yaml';
const REDIS = 'sha256:bc1ac05170dde0f570c604067d13b5f4ba0e4353631ac6bfad01a31e73b8241a'; // redis:7, redis:7.2: deleted
const APP_RELEASE = 'sha256:54475316a4fdc29177d2769dd857ac9dfc04a40665bd1f8fffae9a7f3c6ff39b'; // sha-0714470 untagged, v1.8.0 protected
const INTERMEDIATE = 'sha256:9317d4324b98ec8c9e0c8f028bd1d828695ef0130992ce8c1e900b5d1d5f642e'; // untagged parent of a kept chain
const NODE = 'sha256:2e65a01dc90d633253a8598576295c2e07b264fbd4af8aac0f06db689a9287da'; // running CI job
const POSTGRES = 'sha256:48bffcd1fa4e433a8818a8a39e70069b006d051c22aeb368597d1535e876bb1a'; // stopped less than a day ago
const WORKER_PR112 = 'sha256:8d0c2bb9930a250198251b08b1fea88a6e0f0cf019a99665b7bdda78cd288e54'; // stopped 12 days ago: removable

const explain = (ref: string, ...more: string[]) =>
  runCli(['explain', ref, '-p', POLICY, '--inventory', INVENTORY, '--now', NOW, ...more]);

/** The first line names the image and what was asked for. */
const heading = (id: string, ref?: string) => `image ${id.slice(7, 19)} (${id})${ref ? ` for ${ref}` : ''}\n`;

const verdict = (text: string) => text.trimEnd().split('\n').at(-1);

interface ExplainJson {
  imageId: string;
  deleted: boolean;
  rule: string | null;
  kept: ({ imageId: string; refs: string[]; reason: string; detail: string } & Record<string, unknown>) | null;
  references: {
    ref: string;
    fate: string;
    rule?: string;
    why?: { reason: string } & Record<string, unknown>;
    detail: string;
    rules: ({ rule: string; outcome: string; detail: string } & Record<string, unknown>)[];
  }[];
  containers: { id: string; state: string; removable: boolean }[];
  lastUsed: string;
  firstSeen: string | null;
}

describe('imgsweep explain: finding the image', () => {
  it('by a reference as the engine lists it', async () => {
    const r = await explain('redis:7');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(heading(REDIS, 'redis:7'))).toBe(true);
  });

  it.each(['docker.io/library/redis:7', 'library/redis:7', 'index.docker.io/library/redis:7'])(
    'by the normalized reference %s',
    async (ref) => {
      const r = await explain(ref);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.startsWith(heading(REDIS, 'redis:7'))).toBe(true);
      expect(r.stdout).toBe((await explain('redis:7')).stdout);
    },
  );

  it('by a digest reference', async () => {
    const r = await explain('redis@sha256:f72061bbe43cdd4eb7aa65495e5da4285037f02b5a59703e01a6be1dc8820ff7');
    expect(r.code).toBe(0);
    expect(
      r.stdout.startsWith(
        heading(REDIS, 'redis@sha256:f72061bbe43cdd4eb7aa65495e5da4285037f02b5a59703e01a6be1dc8820ff7'),
      ),
    ).toBe(true);
  });

  it.each([
    ['full ID', REDIS],
    ['full ID without sha256:', REDIS.slice(7)],
    ['12-hex prefix', REDIS.slice(7, 19)],
    ['sha256: and a 16-hex prefix', REDIS.slice(0, 23)],
  ])('by %s', async (_what, query) => {
    const r = await explain(query);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(heading(REDIS))).toBe(true);
  });

  it('gives the same verdict whichever way the image is named', async () => {
    const byRef = await explain('redis:7.2');
    const byId = await explain(REDIS);
    expect(verdict(byRef.stdout)).toBe(verdict(byId.stdout));
    expect(byRef.stdout.split('\n').slice(1)).toEqual(byId.stdout.split('\n').slice(1));
  });

  describe('with an inventory where two IDs share their first 12 hex digits', () => {
    let dir: string;
    let file: string;
    const shared = 'abcdefabcdef';
    const [first, second] = [REDIS, 'sha256:36814dace63abbc67852d1fb523bc598529dd2a8104843adcff3902add7bb2c1'];
    let firstClash: string;
    let secondClash: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-explain-'));
      file = join(dir, 'clash.json');
      let text = readFileSync(INVENTORY, 'utf8');
      expect(text).toContain(second); // curlimages/curl: no children, no containers
      firstClash = `sha256:${shared}0${first.slice(20)}`;
      secondClash = `sha256:${shared}1${second.slice(20)}`;
      text = text.replaceAll(first, firstClash).replaceAll(second, secondClash);
      await writeFile(file, text);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const explainIn = (ref: string) => runCli(['explain', ref, '-p', POLICY, '--inventory', file, '--now', NOW]);

    it('refuses an ambiguous prefix with exit 2, naming the candidates', async () => {
      const r = await explainIn(shared);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain('ambiguous');
      expect(r.stderr).toContain(firstClash.slice(7, 19));
    });

    it('finds each image with one more digit', async () => {
      expect((await explainIn(`${shared}0`)).stdout.startsWith(heading(firstClash))).toBe(true);
      expect((await explainIn(`${shared}1`)).stdout.startsWith(heading(secondClash))).toBe(true);
    });
  });

  it.each([
    ['an unknown reference', 'nosuch/image:1', /no image matches "nosuch\/image:1"/],
    ['a known repository with an unknown tag', 'redis:6', /no image matches "redis:6"/],
    ['an ID prefix that matches nothing', 'ffffffffffff', /no image matches "ffffffffffff"/],
    ['an ID prefix shorter than 12 hex digits', REDIS.slice(7, 18), /no image matches/],
    ['something that is not a reference', 'Not A Ref!', /no image matches "Not A Ref!"/],
  ])('rejects %s with exit 2', async (_what, query, message) => {
    const r = await explain(query);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(message);
  });

  it('needs exactly one REF and a policy', async () => {
    for (const args of [
      ['explain', '-p', POLICY, '--inventory', INVENTORY],
      ['explain', 'redis:7', 'redis:7.2', '-p', POLICY, '--inventory', INVENTORY],
      ['explain', 'redis:7', '--inventory', INVENTORY],
    ]) {
      const r = await runCli(args);
      expect(r, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr, args.join(' ')).toMatch(/^imgsweep: explain: /);
    }
  });
});

describe('imgsweep explain: what it says', () => {
  it('a deleted image with two tags: each reference goes, and the verdict names the rule', async () => {
    const { code, stdout } = await explain('redis:7');
    expect(code).toBe(0);
    expect(stdout).toContain('\n  redis:7: removed with the image (rule all-unused-after-two-weeks)\n');
    expect(stdout).toContain('\n  redis:7.2: untagged (rule all-unused-after-two-weeks)\n');
    expect(stdout).toMatch(
      /\n {2}redis@sha256:f72061bb[0-9a-f]+: removed with the image \(rule all-unused-after-two-weeks\)\n/,
    );
    expect(stdout).toContain('    rule all-unused-after-two-weeks: selected (covered, conditions hold)\n');
    expect(stdout).toContain('    rule pr-builds: no-match (match does not cover it)\n');
    expect(stdout).toContain('\ncontainers: none\n');
    expect(verdict(stdout)).toMatch(
      /^verdict: DELETED by rule all-unused-after-two-weeks \(est\. [\d.]+ [kMG]?B reclaimed\)$/,
    );
  });

  it('an image kept by a protected tag: only the selected tag is untagged', async () => {
    const { code, stdout } = await explain('registry.acme.io/ci/app:sha-0714470');
    expect(code).toBe(0);
    expect(stdout.startsWith(heading(APP_RELEASE, 'registry.acme.io/ci/app:sha-0714470'))).toBe(true);
    expect(stdout).toContain('\n  registry.acme.io/ci/app:sha-0714470: untagged (rule pr-builds)\n');
    expect(stdout).toContain('\n  registry.acme.io/ci/app:v1.8.0: kept: tag v1.8.0 (protect.tags)\n');
    expect(verdict(stdout)).toBe(
      'verdict: KEPT (protected-reference): tag v1.8.0 (protect.tags); 1 reference untagged',
    );
  });

  it('an untagged parent of a kept image: the rules select it, the chain keeps it', async () => {
    const { code, stdout } = await explain(INTERMEDIATE.slice(7, 19));
    expect(code).toBe(0);
    expect(stdout.startsWith(heading(INTERMEDIATE))).toBe(true);
    expect(stdout).toContain('\nreferences: none (untagged)\n');
    expect(stdout).toContain('    rule dangling: selected (covered, conditions hold)\n');
    expect(stdout).toContain('\n  children 1f521c2e1567\n');
    expect(verdict(stdout)).toBe('verdict: KEPT (parent-of-kept): parent of kept image 1f521c2e1567');
  });

  it('an image of a running container: never touched', async () => {
    const { code, stdout } = await explain('node:20-bookworm');
    expect(code).toBe(0);
    expect(stdout.startsWith(heading(NODE, 'node:20-bookworm'))).toBe(true);
    expect(stdout).toMatch(/\n {2}node:20-bookworm: kept: used by running container \S+ \(bd11cb080051\)\n/);
    expect(stdout).toMatch(/\ncontainers:\n {2}\S+ \(bd11cb080051\) running: .*the image is never touched\n/);
    expect(verdict(stdout)).toMatch(/^verdict: KEPT \(in-use\): used by running container \S+ \(bd11cb080051\)$/);
  });

  it('an image of a recently stopped container: kept while the container may restart', async () => {
    const { code, stdout } = await explain('postgres:16');
    expect(code).toBe(0);
    expect(stdout.startsWith(heading(POSTGRES, 'postgres:16'))).toBe(true);
    expect(stdout).toMatch(
      /\ncontainers:\n {2}\S+ \(374264745b57\) exited, finished 2026-11-27T08:00:03Z: stopped, keeps the image\n/,
    );
    expect(verdict(stdout)).toMatch(
      /^verdict: KEPT \(in-use-stopped\): used by exited container \S+ \(374264745b57\) \(stopped less than 24h ago\)$/,
    );
  });

  it('an image of a container stopped long ago: the container goes first, then the image', async () => {
    const { code, stdout } = await explain('registry.acme.io/ci/worker:pr-112');
    expect(code).toBe(0);
    expect(stdout).toContain(
      '\ncontainers:\n  migrate-db (8e8b2e3e5bb3) exited, finished 2026-11-15T11:00:58Z: stopped, may be removed (containers.stopped: remove)\n',
    );
    expect(verdict(stdout)).toMatch(/^verdict: DELETED by rule pr-builds /);
  });

  it('agrees with the plan', async () => {
    const plan = JSON.parse(
      (await runCli(['plan', '-p', POLICY, '--inventory', INVENTORY, '--now', NOW, '--format', 'json'])).stdout,
    ) as {
      actions: { type: string; imageId: string; rule: string }[];
      kept: { imageId: string; reason: string }[];
    };
    for (const id of [REDIS, APP_RELEASE, INTERMEDIATE, NODE, POSTGRES, WORKER_PR112]) {
      const text = verdict((await explain(id)).stdout);
      const del = plan.actions.find((a) => a.type === 'delete' && a.imageId === id);
      const kept = plan.kept.find((k) => k.imageId === id);
      if (del) expect(text, id).toMatch(new RegExp(`^verdict: DELETED by rule ${del.rule} `));
      else expect(text, id).toMatch(new RegExp(`^verdict: KEPT \\(${kept!.reason}\\)`));
    }
  });
});

describe('imgsweep explain --json', () => {
  const json = async (ref: string) => {
    const r = await explain(ref, '--json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as ExplainJson;
  };

  it('a deleted image: each reference with its fate and every rule verdict', async () => {
    const out = await json('redis:7');
    expect(Object.keys(out).sort()).toEqual(
      ['containers', 'deleted', 'firstSeen', 'imageId', 'kept', 'lastUsed', 'references', 'rule'].sort(),
    );
    expect(out).toMatchObject({
      imageId: REDIS,
      deleted: true,
      rule: 'all-unused-after-two-weeks',
      kept: null,
      containers: [],
    });
    expect(out.references.map((r) => [r.ref, r.fate, r.rule])).toEqual([
      ['redis:7', 'delete', 'all-unused-after-two-weeks'],
      ['redis:7.2', 'untag', 'all-unused-after-two-weeks'],
      [expect.stringMatching(/^redis@sha256:f72061bb/), 'delete', 'all-unused-after-two-weeks'],
    ]);
    for (const ref of out.references) {
      expect(ref.rules.map((t) => t.rule)).toEqual(['dangling', 'pr-builds', 'all-unused-after-two-weeks']);
      expect(ref.rules.at(-1)).toEqual({
        rule: 'all-unused-after-two-weeks',
        outcome: 'selected',
        action: 'delete',
        detail: 'covered, conditions hold',
      });
    }
    expect(out.lastUsed).toBe('2026-11-09T11:00:06.000Z');
    expect(out.firstSeen).toBe('2026-10-23T11:00:15.000Z');
  });

  it('a kept image: the kept entry of the plan, and the protected reference with why', async () => {
    const out = await json('registry.acme.io/ci/app:v1.8.0');
    expect(out).toMatchObject({ imageId: APP_RELEASE, deleted: false, rule: null });
    expect(out.kept).toEqual({
      imageId: APP_RELEASE,
      refs: ['registry.acme.io/ci/app:sha-0714470', 'registry.acme.io/ci/app:v1.8.0'],
      reason: 'protected-reference',
      ref: 'registry.acme.io/ci/app:v1.8.0',
      protection: { kind: 'tags', pattern: 'v*.*.*' },
      detail: 'tag v1.8.0 (protect.tags)',
    });
    const protectedWhy = {
      reason: 'protected-reference',
      ref: 'registry.acme.io/ci/app:v1.8.0',
      protection: { kind: 'tags', pattern: 'v*.*.*' },
    };
    expect(out.references.map(({ ref, fate, rule, why, detail }) => ({ ref, fate, rule, why, detail }))).toEqual([
      {
        ref: 'registry.acme.io/ci/app:sha-0714470',
        fate: 'untag',
        rule: 'pr-builds',
        why: undefined,
        detail: 'untagged (rule pr-builds)',
      },
      {
        ref: 'registry.acme.io/ci/app:v1.8.0',
        fate: 'keep',
        rule: undefined,
        why: protectedWhy,
        detail: 'kept: tag v1.8.0 (protect.tags)',
      },
    ]);
  });

  it('containers with state and whether they may be removed', async () => {
    expect((await json('postgres:16')).containers).toEqual([
      { id: expect.stringMatching(/^374264745b57[0-9a-f]{52}$/), state: 'exited', removable: false },
    ]);
    expect((await json('node:20-bookworm')).containers).toEqual([
      { id: expect.stringMatching(/^bd11cb080051[0-9a-f]{52}$/), state: 'running', removable: false },
    ]);
    const pr112 = await json('registry.acme.io/ci/worker:pr-112');
    expect(pr112).toMatchObject({ imageId: WORKER_PR112, deleted: true, rule: 'pr-builds' });
    expect(pr112.containers).toEqual([
      { id: expect.stringMatching(/^8e8b2e3e5bb3/), state: 'exited', removable: true },
    ]);
  });

  it('an image without usage data counts as first seen and last used at the capture time', async () => {
    const out = await json('nginx:1.27-alpine'); // no usage entry in the example; captured 2026-11-27T11:00:00Z
    expect(out.firstSeen).toBe('2026-11-27T11:00:00.000Z');
    expect(out.lastUsed).toBe('2026-11-27T11:00:00.000Z');
  });

  it('an untagged image: no references, kept with its reason', async () => {
    const out = await json(INTERMEDIATE);
    expect(out).toMatchObject({ imageId: INTERMEDIATE, deleted: false, rule: null, references: [], containers: [] });
    expect(out.kept).toMatchObject({
      reason: 'parent-of-kept',
      child: expect.stringMatching(/^sha256:1f521c2e1567/),
      detail: 'parent of kept image 1f521c2e1567',
    });
  });
});

describe('durations are shown as the policy wrote them', () => {
  let dir: string;
  let policy: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-durations-'));
    policy = join(dir, 'policy.yaml');
    // Each would read differently in largest-units-first form: 1d12h, 8w4d, 12w6d.
    await writeFile(
      policy,
      [
        'version: 1',
        'protect: { youngerThan: 36h }',
        'containers: { stopped: remove, stoppedFor: 36h }',
        'rules:',
        '  - { name: old, match: { repositories: ["**"] }, olderThan: 60d }',
        '  - { name: idle, match: { repositories: ["**"] }, unusedFor: 90d }',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) =>
    runCli([...args, '-p', policy, '--inventory', INVENTORY, '--now', NOW]).then((r) => {
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    });

  it('in explain: olderThan, unusedFor, containers.stoppedFor', async () => {
    const text = await run('explain', POSTGRES);
    expect(text).toContain('not older than 60d');
    expect(text).toContain('within 90d');
    expect(text).toContain('stopped less than 36h ago');
    expect(text).not.toMatch(/8w4d|12w6d|1d12h/);
  });

  it('in the plan, text and JSON: protect.youngerThan and containers.stoppedFor', async () => {
    const text = await run('plan');
    expect(text).toMatch(/(created|first seen) less than 36h ago \(protect\.youngerThan\)/);
    expect(text).toContain('stopped less than 36h ago');
    expect(text).not.toContain('1d12h');
    const json = await run('plan', '--format', 'json');
    expect(json).toContain('"youngerThan": "36h"');
    expect(json).toContain('"stoppedFor": "36h"');
  });
});
