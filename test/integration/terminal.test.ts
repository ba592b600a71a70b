import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { loadImage, randomLayer } from '../support/fixtures.js';
import { runCommand } from '../support/process.js';

const BIN = fileURLToPath(new URL('../../bin/imgsweep.js', import.meta.url));
const CLEAR = '\r\x1b[K';

/** Single quotes for sh. */
const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * bin/imgsweep.js under a real pseudo-terminal: `script` runs it with a pty as its stdin, stdout and stderr, and
 * copies what it writes there (both streams, as a person would see them) to its own stdout.
 */
async function onTerminal(args: string[]): Promise<{ code: number; screen: string }> {
  // A pty of no size reads as 80 columns; a wider one keeps the test's long names whole.
  const command = `stty cols 200; ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  const r = await runCommand('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, TERM: 'xterm' },
  });
  return { code: r.code, screen: r.stdout };
}

/** apply at a terminal: the plan is shown, a question asked, and only "y" goes ahead; a live progress line. */
describe.skipIf(engineTestsSkipped())('apply at a terminal', () => {
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

  it('"y" applies, with a progress line on the terminal', async () => {
    const r = await apply('y\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[#+\s*\] \d+\/2 steps · /);
    expect(r.stdout).toMatch(/deleted 1 image/);
    expect(await tagsNow()).toEqual([]);
  });

  const policyFor = async (repo: string) => {
    const file = join(dir, `${repo}.yaml`);
    await writeFile(file, `version: 1\nrules:\n  - name: olds\n    match: { repositories: ["${repo}/**"] }\n`);
    return file;
  };

  it('under a real pty: a live line with steps done of all, bytes freed, elapsed time and the image at work', async () => {
    const ids = await Promise.all(
      [1, 2, 3].map((n) => loadImage(t.docker, { tags: [`pty/app:${n}`], layerBytes: 200_000 })),
    );
    const policy = await policyFor('pty');
    const r = await onTerminal(['apply', '-p', policy, '--host', t.host, '--state-dir', dir, '--yes']);
    expect(r.code, r.screen).toBe(0);
    // eslint-disable-next-line no-control-regex -- a frame ends where the next escape sequence starts
    const drawn = [...r.screen.matchAll(/\[[# ]{20}\] \d+\/\d+ steps · [^\r\n\x1b]*/g)].map((m) => m[0]);
    expect(drawn.length, r.screen).toBeGreaterThan(0);
    for (const frame of drawn)
      expect(frame).toMatch(/^\[[# ]{20}\] [0-3]\/3 steps · [\d.]+ (B|kB|MB) freed \(est\.\) · \d+:\d\d/);
    // The image at work is named while its step runs; at the end every step is counted and the bytes add up.
    expect(
      drawn.some((f) => / · delete [0-9a-f]{12} pty\/app:\d/.test(f)),
      r.screen,
    ).toBe(true);
    expect(drawn.at(-1)).toMatch(/\] 3\/3 steps · /);
    expect(drawn.at(-1)).not.toMatch(/^\S+ 3\/3 steps · 0 B/);
    // Step lines and the summary are whole lines above it, and the line is cleared before the summary.
    expect(r.screen).toMatch(/deleted 3 images/);
    const last = r.screen.lastIndexOf(' steps · ');
    expect(r.screen.slice(last)).toContain(CLEAR);
    for (const id of ids) expect((await t.docker.listImages()).some((i) => i.Id === id)).toBe(false);
  });

  it('without a terminal, and with --quiet, no progress line: one line per step as before', async () => {
    await Promise.all([1, 2].map((n) => loadImage(t.docker, { tags: [`piped/app:${n}`] })));
    const piped = await runCommand(process.execPath, [
      BIN,
      'apply',
      '-p',
      await policyFor('piped'),
      '--host',
      t.host,
      '--state-dir',
      dir,
      '--yes',
    ]);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout + piped.stderr).not.toContain('\x1b[');
    expect(piped.stdout.split('\n').filter((l) => /^done +(untag|delete)/.test(l))).toHaveLength(2);

    await Promise.all([1, 2].map((n) => loadImage(t.docker, { tags: [`quiet/app:${n}`] })));
    const quiet = await onTerminal([
      'apply',
      '-p',
      await policyFor('quiet'),
      '--host',
      t.host,
      '--state-dir',
      dir,
      '--yes',
      '--quiet',
    ]);
    expect(quiet.code, quiet.screen).toBe(0);
    expect(quiet.screen).not.toContain('\x1b[');
    expect(quiet.screen).not.toContain(' steps · ');
  });

  it('layer reads that take more than a second show their own line, cleared when they end', async () => {
    // Images that share a base layer: their layers have to be read (what they share is not told by sizes alone).
    const base = randomLayer(50_000);
    for (const n of [1, 2, 3]) await loadImage(t.docker, { tags: [`slow/app:${n}`], layers: [base, randomLayer()] });
    const proxy = await startFaultProxy(t.host.replace(/^unix:\/\//, ''), dir);
    try {
      // Every image's history arrives 1.5 s late: the reads take longer than a second.
      proxy.arm([{ endpoint: 'GET /images/{ref}/history', calls: 'every', kind: 'slow' }]);
      const r = await onTerminal(['plan', '-p', await policyFor('slow'), '--host', proxy.host, '--state-dir', dir]);
      expect(r.code, r.screen).toBe(0);
      expect(r.screen).toMatch(/reading image layers: \d+\/\d+ images · 0:0[1-9]/);
      // Cleared before the plan is printed.
      const at = r.screen.lastIndexOf('reading image layers');
      expect(r.screen.slice(at)).toContain(CLEAR);
      expect(r.screen.slice(at)).toMatch(/Delete \(3, /);

      // Fast reads (no delay): no line at all.
      proxy.arm([]);
      const fast = await onTerminal(['plan', '-p', await policyFor('slow'), '--host', proxy.host, '--state-dir', dir]);
      expect(fast.code, fast.screen).toBe(0);
      expect(fast.screen).not.toContain('reading image layers');
    } finally {
      await proxy.close();
    }
  });

  it('a first run on a host says why it plans nothing for images it has just seen, and when they become eligible', async () => {
    const old = new Date(Date.now() - 30 * 86_400_000).toISOString();
    await Promise.all([1, 2].map((n) => loadImage(t.docker, { tags: [`first/app:${n}`], created: old })));
    const file = join(dir, 'first.yaml');
    await writeFile(
      file,
      'version: 1\nprotect: { youngerThan: 1h }\nrules:\n  - name: old\n    match: { repositories: ["first/**"] }\n    olderThan: 7d\n',
    );
    const state = join(dir, 'first-state');
    const first = await runCli(['plan', '-p', file, '--host', t.host, '--state-dir', state]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /^Note: \d+ images are kept only because imgsweep first saw them less than 1h ago \(protect\.youngerThan\), as this run is its first on this engine \(it started the usage record\); they become eligible at \S+\.$/m,
    );
    expect(first.stdout).toContain('Nothing to do.');
    // An hour and a minute later (the record kept), the same images are planned.
    const later = new Date(Date.now() + 3_660_000).toISOString();
    const again = await runCli(['plan', '-p', file, '--host', t.host, '--state-dir', state, '--now', later]);
    expect(again.stdout).not.toContain('Note:');
    expect(again.stdout).toMatch(/Delete \(2, /);
  });
});
