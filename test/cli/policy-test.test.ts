import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const POLICY = resolve('policies/ci-runner.yaml');
const INVENTORY = resolve('examples/inventory.json');

async function testFile(name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, body);
  return file;
}

describe('imgsweep test', () => {
  it("the shipped policies' tests pass, run through the command line", async () => {
    const r = await runCli(['test', 'policies/tests']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^PASS policies\/tests\/ci-runner\.test\.yaml \(\d+ expectations\)$/m);
    expect(r.stdout).toMatch(/^PASS policies\/tests\/dangling-only\.test\.yaml /m);
    expect(r.stdout).toMatch(/^PASS policies\/tests\/production-host\.test\.yaml /m);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
  });

  it('a failing expectation: expected and actual fate, the explanation, the summary, exit 1', async () => {
    const file = await testFile(
      'fails.test.yaml',
      `policy: ${POLICY}\ninventory: ${INVENTORY}\nnow: 2026-11-27T12:00:00Z\nexpect:\n` +
        `  - { ref: "registry.acme.io/ci/app:pr-104", fate: kept }\n` +
        `  - { ref: "registry.acme.io/ci/app:pr-109", fate: kept, reason: in-use }\n` +
        `  - { ref: "registry.acme.io/ci/app:pr-132", fate: deleted, rule: pr-builds }\n` +
        `  - { ref: "registry.acme.io/ci/app:pr-104", fate: deleted, bytes: 2GB }\n` +
        `  - { ref: "no/such:image", fate: kept }\n` +
        `  - { ref: "gitlab/gitlab-runner:v17.5.3", fate: kept, reason: in-use }\n`,
    );
    const r = await runCli(['test', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL ${file} (6 expectations, 5 failed)`);
    expect(r.stdout).toContain(`${file}:5 registry.acme.io/ci/app:pr-104 is kept: expected kept, got deleted`);
    expect(r.stdout).toContain('verdict: DELETED by rule pr-builds');
    expect(r.stdout).toContain(
      `${file}:6 registry.acme.io/ci/app:pr-109 is kept (reason in-use): expected reason in-use, got protected-label`,
    );
    expect(r.stdout).toContain(
      `${file}:7 registry.acme.io/ci/app:pr-132 is deleted (rule pr-builds): expected rule pr-builds, got disk`,
    );
    expect(r.stdout).toMatch(new RegExp(`${file}:8 .*expected 2\\.0 GB reclaimed, got 1\\.1 GB`));
    expect(r.stdout).toMatch(new RegExp(`${file}:9 no/such:image is kept: .*no/such:image`));
    expect(r.stdout).toMatch(/^1 passed, 5 failed$/m);
  });

  it('--format junit: one testsuite per file, a testcase per expectation, failures with their explanation', async () => {
    const file = await testFile(
      'junit.test.yaml',
      `name: "a <b>name</b>"\npolicy: ${POLICY}\ninventory: ${INVENTORY}\nnow: 2026-11-27T12:00:00Z\nexpect:\n` +
        `  - { ref: "registry.acme.io/ci/app:pr-104", fate: kept }\n` +
        `  - { ref: "gitlab/gitlab-runner:v17.5.3", fate: kept }\n`,
    );
    const r = await runCli(['test', file, '--format', 'junit', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="imgsweep test" tests="2" failures="1" errors="0">/,
    );
    expect(r.stdout).toContain('<testsuite name="a &lt;b&gt;name&lt;/b&gt;"');
    expect(r.stdout).toMatch(
      /<testcase [^>]*name="[^"]*:6 registry\.acme\.io\/ci\/app:pr-104 is kept"><failure message="expected kept, got deleted">/,
    );
    expect(r.stdout).toMatch(/<testcase [^>]*gitlab-runner:v17\.5\.3 is kept"\/>/);
    expect(r.stdout).not.toContain('<b>');
  });

  it('a bad test file is reported with its position, exit 2; the others still run', async () => {
    const bad = await testFile(
      'bad.test.yaml',
      `policy: ${POLICY}\ninventory: ${INVENTORY}\nexpect:\n  - { ref: "x:1", fate: gone }\n  - { ref: "x:1", image: "abc", fate: kept }\nextra: 1\n`,
    );
    const both = await testFile(
      'both.test.yaml',
      `policy: ${POLICY}\ninventory: ${INVENTORY}\nimages: []\nexpect:\n  - { ref: "x:1", fate: kept, reason: sunny }\n`,
    );
    const r = await runCli(['test', bad, both, 'policies/tests/dangling-only.test.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`ERROR ${bad}`);
    expect(r.stdout).toMatch(
      new RegExp(`${bad}:4:\\d+ expect\\[0\\]\\.fate: string "gone" is not one of "deleted", "untagged", "kept"`),
    );
    expect(r.stdout).toMatch(new RegExp(`${bad}:6:1 extra: unknown key "extra"`));
    expect(r.stdout).toMatch(new RegExp(`${both}:5:\\d+ expect\\[0\\]\\.reason: string "sunny" is not one of`));
    expect(r.stdout).toMatch(/^PASS policies\/tests\/dangling-only\.test\.yaml/m);
    // Schema-valid but contradictory: both ref and image, and an inventory with images.
    const contradictory = await testFile(
      'contradictory.test.yaml',
      `policy: ${POLICY}\ninventory: ${INVENTORY}\nimages: []\nexpect:\n  - { ref: "x:1", image: "abc", fate: kept }\n`,
    );
    const c = await runCli(['test', contradictory]);
    expect(c.code).toBe(2);
    expect(c.stdout).toMatch(new RegExp(`${contradictory}:3:1 images: give either inventory .* or images`));
    expect(c.stdout).toMatch(new RegExp(`${contradictory}:5:\\d+ expect\\[0\\]: name either a ref or an image`));
  });

  it('a folder runs its *.test.yaml files, sorted; a missing policy is an error of its file', async () => {
    const sub = join(dir, 'folder', 'nested');
    await mkdir(sub, { recursive: true });
    await writeFile(join(dir, 'folder', 'notes.yaml'), 'not: a test\n');
    await writeFile(
      join(sub, 'missing.test.yaml'),
      'policy: nowhere.yaml\nnow: 2026-11-27T12:00:00Z\nimages: [{ refs: ["a:1"] }]\nexpect: [{ ref: "a:1", fate: kept }]\n',
    );
    const r = await runCli(['test', join(dir, 'folder')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`ERROR ${join(sub, 'missing.test.yaml')}`);
    expect(r.stdout).toContain(`${join(sub, 'nowhere.yaml')}:1:1 (root): cannot read the policy: no such file`);
    expect(r.stdout).not.toContain('notes.yaml');
    const none = await runCli(['test', join(dir, 'folder', 'notes.yaml').replace('notes.yaml', 'nested-none')]);
    expect(none.code).toBe(2);
  });

  it('images written in the file: parents, containers, sizes and defaults', async () => {
    const file = await testFile(
      'inline.test.yaml',
      [
        `policy: ${resolve('policies/production-host.yaml')}`,
        'now: 2026-11-27T12:00:00Z',
        'images:',
        '  - { refs: ["base:1"], created: 2026-01-01T00:00:00Z, size: 50MB }',
        '  - { refs: ["app:build-1"], parent: "base:1", created: 2026-02-01T00:00:00Z, size: 20MB }',
        '  - { refs: ["app:build-2"], created: 2026-03-01T00:00:00Z }',
        '  - { refs: ["app:build-3"], created: 2026-04-01T00:00:00Z }',
        '  - { refs: ["app:build-4"], created: 2026-05-01T00:00:00Z }',
        '  - { refs: ["app:build-5"], created: 2026-06-01T00:00:00Z }',
        'containers:',
        '  - { image: "app:build-4", state: exited }',
        'expect:',
        // build-2, 3 and 5 are the newest unused builds; build-1's own 20 MB go, the base's 50 MB stay.
        '  - { ref: "app:build-1", fate: deleted, rule: superseded-releases, bytes: 20MB }',
        '  - { ref: "base:1", fate: kept }',
        '  - { ref: "app:build-4", fate: kept, reason: in-use-stopped }',
      ].join('\n'),
    );
    const r = await runCli(['test', file]);
    expect(r.stdout).toMatch(/^3 passed, 0 failed$/m);
    expect(r.code).toBe(0);
  });

  it('restorable images written out: what a registry says of each digest, or nothing (not asked)', async () => {
    const policy = join(dir, 'last-copy.yaml');
    await writeFile(
      policy,
      'version: 1\nprotect: { unrestorable: true }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n',
    );
    const d = (n: number) => `sha256:${String(n).repeat(64)}`;
    const file = await testFile(
      'restorable.test.yaml',
      [
        `policy: ${policy}`,
        'now: 2026-11-27T12:00:00Z',
        'images:',
        `  - { refs: ["registry.acme.io/app:1", "registry.acme.io/app@${d(1)}"], restorable: true }`,
        `  - { refs: ["registry.acme.io/gone:1", "registry.acme.io/gone@${d(2)}"], restorable: false }`,
        `  - { refs: ["registry.acme.io/unasked:1", "registry.acme.io/unasked@${d(3)}"] }`,
        '  - { refs: ["local/built:1"] }',
        'expect:',
        '  - { ref: "registry.acme.io/app:1", fate: deleted, rule: all }',
        '  - { ref: "registry.acme.io/gone:1", fate: kept, reason: protected-unrestorable }',
        '  - { ref: "registry.acme.io/unasked:1", fate: kept, reason: protected-unrestorable }',
        '  - { ref: "local/built:1", fate: kept, reason: protected-unrestorable }',
      ].join('\n'),
    );
    const r = await runCli(['test', file]);
    expect(r.stdout).toMatch(/^4 passed, 0 failed$/m);
    const bad = await testFile(
      'restorable-bad.test.yaml',
      `policy: ${policy}\nimages:\n  - { refs: ["local/x:1"], restorable: true }\nexpect:\n  - { ref: "local/x:1", fate: kept }\n`,
    );
    const b = await runCli(['test', bad]);
    expect(b.code).toBe(2);
    expect(b.stdout).toMatch(new RegExp(`${bad}:3:\\d+ images\\[0\\]\\.restorable: a registry answers for a digest`));
  });
});
