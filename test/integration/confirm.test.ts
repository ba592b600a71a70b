import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { loadImage } from '../support/fixtures.js';

/** apply at a terminal: the plan is shown, a question asked, and only "y" goes ahead. */
describe.skipIf(engineTestsSkipped())('apply asks for confirmation on a terminal', () => {
  let t: TestEngine;
  let dir: string;
  let policy: string;

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-confirm-'));
    policy = join(dir, 'policy.yaml');
    await writeFile(policy, 'version: 1\nrules:\n  - name: olds\n    match: { repositories: ["confirm/**"] }\n');
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tagsNow = async () =>
    (await t.docker.listImages()).flatMap((i) => i.RepoTags ?? []).filter((r) => r.startsWith('confirm/'));
  const apply = (input: string) =>
    runCli(['apply', '-p', policy, '--host', t.host, '--state-dir', dir], { terminal: true, input });

  it('anything but yes cancels, shows the plan, and changes nothing (exit 1)', async () => {
    await loadImage(t.docker, { tags: ['confirm/app:1', 'confirm/app:2'] });
    for (const answer of ['n\n', '\n', 'maybe\n', '']) {
      const r = await apply(answer);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('Untag (1)');
      expect(r.stderr).toMatch(/Apply these 2 steps to .*\? \[y\/N\] /);
      expect(r.stderr).toContain('Cancelled; nothing changed.');
      expect((await tagsNow()).sort()).toEqual(['confirm/app:1', 'confirm/app:2']);
    }
  });

  it('"y" applies, with a progress bar on the terminal', async () => {
    const r = await apply('y\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[#+\s*\] \d+\/2/);
    expect(r.stdout).toMatch(/deleted 1 image/);
    expect(await tagsNow()).toEqual([]);
  });
});
