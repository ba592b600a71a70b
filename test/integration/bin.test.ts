/**
 * The `imgsweep` command as users run it: bin/imgsweep.js in its own Node process (the Node running the tests,
 * so that running this file under another Node version checks that version), from a copy of the built package
 * in a folder whose path has spaces:
 * - it runs the bundle the build made, and says in one line to build when the bundle is missing;
 * - Node 22.1+ keeps a compile cache for it (in TMPDIR), Node 20 none;
 * - with --verbose, stack traces name the TypeScript sources through the bundle's source map; without it the map
 *   is not read;
 * - plan and apply against a real dockerd do what the policy says.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { importBusybox, loadImage, runContainer } from '../support/fixtures.js';
import type { CommandResult } from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NOW = '2026-11-27T12:00:00Z';
/** Node 22.1 and later have a compile cache, which bin/imgsweep.js turns on. */
const COMPILE_CACHE = 'enableCompileCache' in module;

// The dangling image and smoke/app:old go; smoke/app:v1 is untagged (its image keeps smoke/lib:v1); smoke/app:new
// is too young; smoke/run:1 is used by a running container.
const POLICY = `version: 1
name: smoke
rules:
  - name: dangling
    match: { untagged: true }
  - name: old-app
    match: { repositories: ["smoke/app"] }
    olderThan: 30d
  - name: run
    match: { repositories: ["smoke/run"] }
`;

const show = (r: CommandResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('bin/imgsweep.js in its own process', () => {
  let work: string;
  /** The package as built, copied into a folder whose path has spaces. */
  let pkg: string;
  /** The temp folder the command runs with: where Node 22.1+ keeps its compile cache. */
  let temp: string;

  /** Runs bin/imgsweep.js of the copy with this Node, optionally with a script loaded first (--require). */
  const imgsweep = (args: string[], opts: { require?: string; bin?: string } = {}): Promise<CommandResult> =>
    new Promise((resolve, reject) => {
      const node = [...(opts.require ? ['--require', opts.require] : []), opts.bin ?? join(pkg, 'bin', 'imgsweep.js')];
      // A known environment: no DOCKER_HOST, NODE_OPTIONS or compile-cache settings from the test runner.
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        TMPDIR: temp,
        XDG_STATE_HOME: join(work, 'state'),
      };
      const child = spawn(process.execPath, [...node, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ stdout, stderr: stderr + (signal ? `[killed by ${signal}]` : ''), code: code ?? 128 }),
      );
    });

  /** What a run loaded and whether source maps were on, from a --require'd script writing them to stderr at exit. */
  const report = async (args: string[]): Promise<{ result: CommandResult; loaded: string[]; sourceMaps: boolean }> => {
    const result = await imgsweep(args, { require: join(work, 'report.cjs') });
    const line = /^LOADED (.*)$/m.exec(result.stderr);
    expect(line, show(result)).not.toBeNull();
    const { loaded, sourceMaps } = JSON.parse(line![1]!) as { loaded: string[]; sourceMaps: boolean };
    return { result: { ...result, stderr: result.stderr.replace(/^LOADED .*\n/m, '') }, loaded, sourceMaps };
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'bundle', 'imgsweep.cjs')))
      throw new Error('dist/ is missing: run `npm run build` before this test');
    work = await mkdtemp(join(tmpdir(), 'isw-bin-'));
    pkg = join(work, 'a folder with spaces', 'imgsweep');
    temp = join(work, 'tmp');
    await mkdir(temp);
    for (const entry of ['package.json', 'bin', 'dist', 'schemas', 'policies', 'examples'])
      await cp(join(ROOT, entry), join(pkg, entry), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    await writeFile(
      join(work, 'report.cjs'),
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify({ loaded: Object.keys(require.cache), sourceMaps: process.sourceMapsEnabled }) + '\\n'));\n",
    );
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('runs the bundle from a folder whose path has spaces, with source maps off', async () => {
    const { result, loaded, sourceMaps } = await report(['validate', join(pkg, 'policies', 'ci-runner.yaml')]);
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toBe(`ok: ${join(pkg, 'policies', 'ci-runner.yaml')}\n`);
    expect(loaded).toContain(join(pkg, 'dist', 'bundle', 'imgsweep.cjs'));
    expect(
      loaded.filter((f) => f.includes('/dist/cli/')),
      'the unbundled modules',
    ).toEqual([]);
    expect(sourceMaps, 'reading the map costs every run: only --verbose turns it on').toBe(false);
  });

  it('without the bundle: one line saying to build, exit 1', async () => {
    const bare = join(work, 'no bundle', 'imgsweep');
    await cp(join(pkg, 'bin'), join(bare, 'bin'), { recursive: true });
    await cp(join(pkg, 'package.json'), join(bare, 'package.json'));
    const r = await imgsweep(['--version'], { bin: join(bare, 'bin', 'imgsweep.js') });
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `imgsweep: ${join(bare, 'dist', 'bundle', 'imgsweep.cjs')} is missing: run \`npm run build\`\n`,
    );
  });

  it('with --verbose, a stack trace names the TypeScript sources', async () => {
    const args = [
      'plan',
      '-p',
      join(pkg, 'policies', 'ci-runner.yaml'),
      '--inventory',
      join(pkg, 'examples', 'inventory.json'),
      '--now',
      NOW,
      '-o',
      join(work, 'no such dir', 'plan.json'),
    ];
    const { result, sourceMaps } = await report([...args, '--verbose']);
    expect(result.code, show(result)).toBe(1);
    expect(sourceMaps).toBe(true);
    expect(result.stderr).toMatch(/^imgsweep: cannot write .*plan\.json/);
    const frames = result.stderr.split('\n').filter((l) => /^\s+at /.test(l));
    expect(
      frames.some((f) => f.includes(`(${join(pkg, 'src', 'cli', 'commands', 'plan.ts')}:`)),
      show(result),
    ).toBe(true);
    expect(
      frames.filter((f) => f.includes('imgsweep.cjs')),
      'no frame left in the bundle',
    ).toEqual([]);

    const quiet = await imgsweep(args);
    expect(quiet.code, show(quiet)).toBe(1);
    expect(quiet.stderr, 'no stack without --verbose').not.toMatch(/^\s+at /m);
  });

  it(`keeps a compile cache in TMPDIR where Node has one (${process.version}: ${COMPILE_CACHE ? 'yes' : 'no'})`, async () => {
    const cache = join(temp, 'node-compile-cache');
    await rm(cache, { recursive: true, force: true });
    const r = await imgsweep(['validate', join(pkg, 'policies', 'dangling-only.yaml')]);
    expect(r.code, show(r)).toBe(0);
    if (COMPILE_CACHE) {
      const [version] = readdirSync(cache);
      expect(readdirSync(join(cache, version!)).length, 'cache entries').toBeGreaterThan(0);
    } else {
      expect(existsSync(cache)).toBe(false);
    }
  });

  describe.skipIf(engineTestsSkipped())('against a real dockerd', () => {
    let t: TestEngine;
    const ids: Record<string, string> = {};
    const live = (...args: string[]) =>
      imgsweep([...args, '-p', join(work, 'policy.yaml'), '--host', t.host, '--state-dir', join(work, 'state')]);

    beforeAll(async () => {
      t = await startDockerd();
      await writeFile(join(work, 'policy.yaml'), POLICY);
      const old = '2020-01-02T03:04:05Z';
      ids.dangling = await loadImage(t.docker, { created: old });
      ids.old = await loadImage(t.docker, { tags: ['smoke/app:old'], created: old });
      ids.shared = await loadImage(t.docker, { tags: ['smoke/app:v1', 'smoke/lib:v1'], created: old });
      ids.young = await loadImage(t.docker, { tags: ['smoke/app:new'] });
      ids.run = await importBusybox(t.docker, 'smoke/run:1');
      await runContainer(t.docker, 'smoke/run:1', { running: true });
    });

    afterAll(async () => {
      await t?.stop();
    });

    it('plans: deletes and untags what the policy selects, keeps what is young or in use', async () => {
      const r = await live('plan', '--format', 'json');
      expect(r.code, show(r)).toBe(0);
      const plan = JSON.parse(r.stdout) as { actions: { type: string; imageId: string; ref?: string }[] };
      expect(plan.actions.map((a) => `${a.type} ${a.imageId}${a.ref ? ` ${a.ref}` : ''}`).sort()).toEqual(
        [`delete ${ids.dangling}`, `delete ${ids.old}`, `untag ${ids.shared} smoke/app:v1`].sort(),
      );
      const text = await live('plan');
      expect(text.code, show(text)).toBe(0);
      expect(text.stdout).toMatch(/^Plan: delete 2 images/m);
    });

    it('applies with --yes, and the engine holds what the plan kept', async () => {
      const r = await live('apply', '--yes');
      expect(r.code, show(r)).toBe(0);
      const images = await t.docker.listImages({ all: true });
      const left = images.map((i) => `${i.Id} ${[...(i.RepoTags ?? [])].sort().join(',')}`).sort();
      expect(left).toEqual(
        [`${ids.shared} smoke/lib:v1`, `${ids.young} smoke/app:new`, `${ids.run} smoke/run:1`].sort(),
      );
    });
  });
});
