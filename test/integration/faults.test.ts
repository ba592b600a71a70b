/**
 * Faults injected between imgsweep and a real dockerd (test/support/fault-suite.ts says what each run checks),
 * and a state folder on a full filesystem. The Podman runs are in faults-podman.test.ts (a worker and engine
 * of their own).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { faultSuite } from '../support/fault-suite.js';
import { loadImage } from '../support/fixtures.js';
import { recordRun } from '../support/reliability.js';

const OLD = '2020-01-01T00:00:00Z';

faultSuite('docker');

describe.skipIf(engineTestsSkipped())('a full state-dir filesystem', () => {
  let t: TestEngine;
  let dir: string;
  let mount: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'isw-full-'));
    mount = join(dir, 'state');
    await mkdir(mount, { mode: 0o700 });
    // A small tmpfs of the test's own (root only, as the engine tests are), filled to the last block.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mount]);
    t = await startDockerd();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    if (mount) execFileSync('umount', ['-l', mount]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('apply deletes nothing, says why and exits 1; with room again a rerun converges', async () => {
    const id = await loadImage(t.docker, { tags: ['full/app:1'], created: OLD });
    const kept = await loadImage(t.docker, { tags: ['full/keep:1'], created: OLD });
    const policy = join(dir, 'policy.yaml');
    await writeFile(
      policy,
      'version: 1\nname: full\nprotect: { repositories: ["full/keep"] }\nrules:\n  - name: sel\n    match: { repositories: ["full/**"] }\n',
    );
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd stops at "No space left on device": the filesystem is full
    }
    const metrics = join(dir, 'full.prom');
    const apply = () =>
      runCli(['apply', '-p', policy, '--host', t.host, '--state-dir', mount, '--yes', '--metrics-file', metrics]);
    const r = await apply();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^imgsweep: cannot create the lock in .*: ENOSPC/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect((await t.docker.getImage(id).inspect()).RepoTags).toEqual(['full/app:1']);
    expect(await readFile(metrics, 'utf8')).toMatch(/^imgsweep_last_run_success\{engine="[^"]+"\} 0$/m);
    await rm(join(mount, 'filler'));
    const again = await apply();
    expect(again.code, again.stderr).toBe(0);
    await expect(t.docker.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await t.docker.getImage(kept).inspect()).RepoTags).toEqual(['full/keep:1']);
    recordRun({
      fault: 'state dir on a full filesystem',
      engine: 'docker',
      steps: 1,
      lost: 0,
      converged: true,
      exitCode: r.code,
    });
  });
});
