/**
 * Packaging and deployment, as a user meets them:
 * - the npm tarball ships what the command needs, and installs into an empty folder as a working `imgsweep`;
 * - the Dockerfile builds on a real dockerd (legacy builder) from a base image made here without a registry,
 *   and the image plans and applies against that engine through its mounted socket, as a non-root user;
 * - every file under deploy/ parses, and each command line in them runs against the test engine (with its
 *   host paths moved into a temp folder);
 * - docs/deployment.md names every metric --metrics-file writes, and its alert rules use only those.
 *
 * The image build has no network (the test daemon runs with --bridge=none), so it cannot `npm ci`: the test
 * makes a prebuilt context with deploy/docker/prebuilt-context.sh (the npm tarball plus production
 * node_modules installed on this machine) and builds with --build-arg PREBUILT=1, which runs the same
 * Dockerfile with the download-and-compile steps replaced by a check of the context. The normal path's
 * build context (what .dockerignore lets through) is checked on the engine too.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { formatMetrics } from '../../src/report/metrics.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { importNodeBase, NODE_UID } from '../support/node-rootfs.js';
import { which, type CommandResult } from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  dependencies: Record<string, string>;
};
const DEPLOY = join(ROOT, 'deploy');

/** Runs a command in a folder; never rejects on a non-zero exit. */
function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString() + (signal ? `\n[killed by ${signal}]` : ''),
        code: code ?? 128,
      });
    });
  });
}

const show = (r: CommandResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Every metric name formatMetrics writes (from a run with every figure known). */
function metricNames(): string[] {
  const text = formatMetrics([
    {
      engine: 'unix:///var/run/docker.sock',
      success: true,
      finishedAt: 1,
      durationSeconds: 1,
      report: {
        summary: {
          deleted: 1,
          untagged: 1,
          containersRemoved: 1,
          bytesEstimated: 1,
          bytesActual: 1,
          skipped: 0,
          failed: 0,
        },
      } as never,
    },
  ]);
  return [...new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))];
}

/** A unit file as sections of key → values (keys may repeat); comments and blank lines dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || current === null)
      throw new Error(`line ${i + 1} is neither [Section] nor Key=value in a section: ${raw}`);
    const values: string[] = current.get(kv[1]!) ?? [];
    values.push(kv[2]!);
    current.set(kv[1]!, values);
  });
  return sections;
}

/**
 * Words of a shell command line as the shell would pass them: quotes removed, $VAR and ${VAR} expanded from
 * env; stops at the first redirection, pipe or command separator. Enough for the lines in deploy/.
 */
function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  const expand = (rest: string): [string, number] => {
    const m = /^\$(?:\{(\w+)\}|(\w+))/.exec(rest);
    if (!m) return ['$', 1];
    const name = m[1] ?? m[2]!;
    if (!(name in env)) throw new Error(`shellWords: $${name} is not set`);
    return [env[name]!, m[0].length];
  };
  for (let i = 0; i < line.length;) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      i++;
    } else if (c === '$') {
      const [value, length] = expand(line.slice(i));
      word = (word ?? '') + value;
      i += length;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else word += c;
      i++;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
      i++;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if ('><|;&'.includes(c)) {
      break;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** The five time fields of a crontab schedule: numbers, ranges, lists, steps and *. */
const CRON_SCHEDULE =
  /^(\*|\d+(-\d+)?(,\d+(-\d+)?)*)(\/\d+)? (\*|\d+(-\d+)?(,\d+(-\d+)?)*)(\/\d+)? (\*|\d+(-\d+)?(,\d+(-\d+)?)*)(\/\d+)? (\*|\d+(-\d+)?(,\d+(-\d+)?)*)(\/\d+)? (\*|\d+(-\d+)?(,\d+(-\d+)?)*)(\/\d+)?$/;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
  [key: string]: unknown;
}

function k8sObjects(): { file: string; obj: K8sObject }[] {
  const dir = join(DEPLOY, 'kubernetes');
  const out: { file: string; obj: K8sObject }[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}

interface PodSpec {
  containers: {
    name: string;
    image: string;
    args: string[];
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    securityContext?: Record<string, unknown>;
  }[];
  volumes: { name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string } }[];
  nodeSelector?: Record<string, string>;
  hostname?: string;
}

function podSpecOf(obj: K8sObject): PodSpec {
  const spec = obj.spec as { template?: { spec: PodSpec }; jobTemplate?: { spec: { template: { spec: PodSpec } } } };
  const pod = spec.template?.spec ?? spec.jobTemplate?.spec.template.spec;
  if (!pod) throw new Error(`${obj.kind} ${obj.metadata?.name}: no pod template`);
  return pod;
}

function imgsweepCommandOfCron(): string[] {
  const lines = readFileSync(join(DEPLOY, 'cron', 'imgsweep'), 'utf8').split('\n');
  const entries = lines.filter((l) => l.trim() !== '' && !l.trim().startsWith('#') && !/^[A-Z_]+=/.test(l));
  expect(entries, 'one schedule line in deploy/cron/imgsweep').toHaveLength(1);
  const fields = entries[0]!.trim().split(/\s+/);
  expect(fields.slice(0, 5).join(' ')).toMatch(CRON_SCHEDULE);
  expect(fields[5], '/etc/cron.d lines name the user').toBe('root');
  expect(fields[6]).toBe('imgsweep');
  return fields.slice(7);
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Starts the image tests' setup (engine, base image, prebuilt context, build: half a minute of mostly waiting on the
 * engine) with the file's first hook, so that it runs while npm packs and installs the package for the first tests;
 * the image tests' own hook waits for it. Set by that describe block, as is the teardown, which the file's last hook
 * runs too (the image tests' own hooks do not run when a filter leaves none of them).
 */
let startImageSetup: (() => void) | undefined;
let tearDownImageSetup: (() => Promise<void>) | undefined;
beforeAll(() => {
  if (!engineTestsSkipped()) startImageSetup?.();
});
afterAll(async () => {
  await tearDownImageSetup?.();
});

describe('npm package', () => {
  let dir: string;
  let files: string[];
  let tarball: string;
  let installed: string;

  const npx = (args: string[]) => exec('npx', ['--no', '--', 'imgsweep', ...args], { cwd: installed });

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
      throw new Error('dist/ is missing: run `npm run build` before this test');
    dir = await mkdtemp(join(tmpdir(), 'isw-pack-'));
    // --ignore-scripts: dist/ is built already ("prepare" would build it again, under other tests' feet).
    const pack = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir]);
    if (pack.code !== 0) throw new Error(`npm pack failed: ${show(pack)}`);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    files = info!.files.map((f) => f.path).sort();
    tarball = join(dir, info!.filename);
    // A folder whose path has spaces, as users' folders may.
    installed = join(dir, 'my app');
    await mkdir(installed);
    await writeFile(
      join(installed, 'package.json'),
      JSON.stringify({ name: 'isw-pack-consumer', version: '1.0.0', private: true }),
    );
    const install = await exec('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], {
      cwd: installed,
      timeoutMs: 150_000,
    });
    if (install.code !== 0) throw new Error(`npm install of the tarball failed: ${show(install)}`);
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ships the command, its compiled code, schemas, example policies, README and LICENSE, and nothing else', () => {
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/imgsweep.js',
      'dist/cli/main.js',
      'dist/bundle/imgsweep.cjs',
      'dist/bundle/imgsweep.cjs.map',
      'dist/validation/compiled/policy.cjs',
      'dist/validation/compiled/plan.cjs',
      'dist/validation/compiled/inventory.cjs',
      'schemas/policy.schema.json',
      'schemas/plan.schema.json',
      'schemas/inventory.schema.json',
      'policies/ci-runner.yaml',
      'policies/dangling-only.yaml',
      'policies/production-host.yaml',
    ]) {
      expect(files, required).toContain(required);
    }
    const allowed = /^(package\.json|README\.md|LICENSE|bin\/.+|dist\/.+|schemas\/.+|policies\/.+|examples\/.+)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    // No tests, sources, maps of sources that are not shipped aside, or local state.
    expect(files.filter((f) => /(^|\/)(test|src|node_modules|\.imgsweep-test|\.git)\//.test(f))).toEqual([]);
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toContain('Copyright (c) 2026 imgsweep contributors');
  });

  it('installs with production dependencies only', () => {
    const modules = join(installed, 'node_modules');
    expect(existsSync(join(modules, PKG.name, 'bin', 'imgsweep.js'))).toBe(true);
    for (const dep of Object.keys(PKG.dependencies)) expect(existsSync(join(modules, dep)), dep).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', 'fast-check', 'esbuild'])
      expect(existsSync(join(modules, dev)), dev).toBe(false);
  });

  it("validates with the schemas compiled at build time, without loading ajv's compiler", async () => {
    const script = [
      `const v = await import(${JSON.stringify(join(installed, 'node_modules', PKG.name, 'dist', 'validation', 'validators.js'))});`,
      "const names = ['policy', 'plan', 'inventory'].map((n) => [n, typeof v.validatorFor(n)]);",
      "const { createRequire } = await import('node:module');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache);',
      "console.log(JSON.stringify({ names, compiled: loaded.filter((f) => f.includes('/compiled/')).map((f) => f.split('/').pop()).sort(), compiler: loaded.some((f) => /ajv[\\/]dist[\\/](core|2020|compile[\\/]index)\\.js$/.test(f)) }));",
    ].join('\n');
    const r = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: installed });
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      names: [
        ['policy', 'function'],
        ['plan', 'function'],
        ['inventory', 'function'],
      ],
      compiled: ['inventory.cjs', 'plan.cjs', 'policy.cjs'],
      compiler: false,
    });
    // The command itself (bundled) finds them too: `validate` loads the policy validator and no compiler.
    const report = join(installed, 'loaded.cjs');
    writeFileSync(
      report,
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));\n",
    );
    const shipped = join(installed, 'node_modules', PKG.name);
    const v = await exec(
      process.execPath,
      [
        '--require',
        report,
        join(shipped, 'bin', 'imgsweep.js'),
        'validate',
        join(shipped, 'policies', 'ci-runner.yaml'),
      ],
      { cwd: installed },
    );
    expect(v.code, show(v)).toBe(0);
    const files = JSON.parse(/LOADED (.*)/.exec(v.stderr)![1]!) as string[];
    expect(files.filter((f) => f.includes('/compiled/')).map((f) => f.split('/').pop())).toEqual(['policy.cjs']);
    expect(files.filter((f) => /ajv[\\/]dist[\\/](core|2020|compile[\\/]index)\.js$/.test(f))).toEqual([]);
    expect(files, 'the bundle ran').toContain(join(shipped, 'dist', 'bundle', 'imgsweep.cjs'));
  });

  it("ships the bundle's source map: with --verbose, a stack trace names the TypeScript sources", async () => {
    const shipped = join(installed, 'node_modules', PKG.name);
    const plan = join(dir, 'no such dir', 'plan.json');
    const r = await npx([
      'plan',
      '-p',
      join(shipped, 'policies', 'ci-runner.yaml'),
      '--inventory',
      join(shipped, 'examples', 'inventory.json'),
      '-o',
      plan,
      '--verbose',
    ]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`(${join(shipped, 'src', 'cli', 'commands', 'plan.ts')}:`);
  });

  it('gives a working `npx imgsweep`: --help, --version, validate, schema, plan on a saved inventory', async () => {
    const help = await npx(['--help']);
    expect(help.code, show(help)).toBe(0);
    expect(help.stdout).toContain('Usage: imgsweep COMMAND');
    const version = await npx(['--version']);
    expect(version.code, show(version)).toBe(0);
    expect(version.stdout.trim()).toBe(PKG.version);

    const shipped = join(installed, 'node_modules', PKG.name);
    const ok = await npx([
      'validate',
      join(shipped, 'policies', 'dangling-only.yaml'),
      join(shipped, 'policies', 'ci-runner.yaml'),
    ]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toContain('ok: ');

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'version: 1\nrules:\n  - name: x\n    match: { untagged: true }\n    olderThan: 3 days\n');
    const invalid = await npx(['validate', bad]);
    expect(invalid.code, show(invalid)).toBe(2);
    expect(invalid.stdout + invalid.stderr).toMatch(/bad\.yaml:5:\d+ rules\[0\]\.olderThan/);

    const schema = await npx(['schema', 'plan']);
    expect(schema.code, show(schema)).toBe(0);
    expect((JSON.parse(schema.stdout) as { $schema?: string }).$schema).toBeTruthy();

    const plan = await npx([
      'plan',
      '-p',
      join(shipped, 'policies', 'ci-runner.yaml'),
      '--inventory',
      join(shipped, 'examples', 'inventory.json'),
      '--now',
      '2026-11-27T12:00:00Z',
      '--format',
      'json',
    ]);
    expect(plan.code, show(plan)).toBe(0);
    expect((JSON.parse(plan.stdout) as { kind: string }).kind).toBe('imgsweep-plan');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('is multi-stage on one BASE_IMAGE argument, runs as a numeric non-root user, with the documented entrypoint', () => {
    expect(instructions[0]).toBe('ARG BASE_IMAGE=node:24-bookworm-slim');
    const froms = instructions.filter((l) => /^FROM /i.test(l));
    expect(froms).toEqual(['FROM ${BASE_IMAGE} AS build', 'FROM ${BASE_IMAGE}']);
    const runtime = instructions.slice(instructions.indexOf('FROM ${BASE_IMAGE}'));
    expect(
      runtime.filter((l) => /^RUN /i.test(l)),
      'the runtime stage needs no shell',
    ).toEqual([]);
    expect(runtime).toContain('USER 1000:1000');
    expect(runtime).toContain('ENTRYPOINT ["node", "/app/bin/imgsweep.js"]');
    expect(runtime).toContain('CMD ["--help"]');
    const build = instructions.slice(0, instructions.indexOf('FROM ${BASE_IMAGE}')).join('\n');
    expect(build).toContain('npm ci');
    expect(build).toContain('npm run build');
    expect(build).toContain('npm prune --omit=dev');
    expect(dockerfile).toMatch(/ARG VERSION=(\S+)/);
    expect(/ARG VERSION=(\S+)/.exec(dockerfile)![1], 'the label version default follows package.json').toBe(
      PKG.version,
    );
  });

  it('.dockerignore keeps host builds and test artifacts out, and every build input in', () => {
    const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const out of ['node_modules', 'dist', '.git', 'coverage', '*.tgz', '.imgsweep-test', 'test'])
      expect(patterns, out).toContain(out);
    for (const kept of [
      'src',
      'bin',
      'schemas',
      'policies',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ]) {
      expect(
        patterns.filter((p) => p === kept || p.startsWith('!')),
        kept,
      ).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('deploy/ files', () => {
  const UNITS = ['imgsweep-apply.service', 'imgsweep-apply.timer', 'imgsweep-watch.service'];
  const unit = (name: string) => parseUnit(readFileSync(join(DEPLOY, 'systemd', name), 'utf8'));
  const one = (u: Map<string, Map<string, string[]>>, section: string, key: string): string | undefined =>
    u.get(section)?.get(key)?.at(-1);

  it('systemd units parse, have the expected sections and keys, and keep the socket reachable', () => {
    const apply = unit('imgsweep-apply.service');
    expect(one(apply, 'Unit', 'Description')).toBeTruthy();
    expect(one(apply, 'Service', 'Type')).toBe('oneshot');
    const execApply = one(apply, 'Service', 'ExecStart')!;
    expect(execApply).toMatch(/^\/usr\/local\/bin\/imgsweep apply -p \/etc\/imgsweep\/policy\.yaml /);
    for (const flag of ['--yes', '--quiet', '--audit-log', '--metrics-file', '--state-dir'])
      expect(execApply.split(' ')).toContain(flag);

    const timer = unit('imgsweep-apply.timer');
    expect(one(timer, 'Timer', 'OnCalendar')).toBe('hourly');
    expect(one(timer, 'Timer', 'RandomizedDelaySec')).toMatch(/^\d+(s|m|min|h)?$/);
    expect(one(timer, 'Timer', 'Persistent')).toBe('yes');
    expect(one(timer, 'Timer', 'Unit')).toBe('imgsweep-apply.service');
    expect(one(timer, 'Install', 'WantedBy')).toBe('timers.target');

    const watch = unit('imgsweep-watch.service');
    expect(one(watch, 'Service', 'Type')).toBe('simple');
    expect(one(watch, 'Service', 'Restart')).toBe('on-failure');
    expect(one(watch, 'Service', 'ExecStart')).toMatch(/^\/usr\/local\/bin\/imgsweep watch( |$)/);
    expect(one(watch, 'Install', 'WantedBy')).toBe('multi-user.target');

    for (const u of [apply, watch]) {
      const service = u.get('Service')!;
      // The hardening must leave imgsweep its engine: a unix socket, as root (no user namespace), and Node's JIT.
      expect(service.get('RestrictAddressFamilies')?.join(' ')).toContain('AF_UNIX');
      expect(service.get('PrivateUsers') ?? []).not.toContain('yes');
      expect(service.get('MemoryDenyWriteExecute') ?? []).not.toContain('yes');
      expect(service.get('User') ?? [], 'root (or a user in the docker group)').toEqual([]);
      for (const key of ['InaccessiblePaths', 'TemporaryFileSystem']) {
        expect((service.get(key) ?? []).join(' ')).not.toMatch(/(^|\s)-?\/(var\/)?run(\/|\s|$)/);
      }
      expect(one(u, 'Service', 'ProtectSystem')).toBe('strict');
      expect(one(u, 'Service', 'StateDirectory')).toBe('imgsweep');
    }
  });

  // systemd-analyze verify reads the units as systemd would: unknown keys and sections, bad values, a missing
  // ExecStart binary, a timer naming a missing unit. It runs with --root on a folder holding the units, the
  // system's own units (for the targets they reference) and a stand-in /usr/local/bin/imgsweep. Where
  // systemd-analyze is not installed, the INI checks above are what remains, and the test says so.
  it('systemd units pass `systemd-analyze verify` (when systemd is installed)', async ({ annotate }) => {
    const analyze = which('systemd-analyze');
    if (analyze === null) {
      await annotate('systemd-analyze not installed (apt-get install -y systemd): checked the units as INI only');
      return;
    }
    const root = await mkdtemp(join(tmpdir(), 'isw-units-'));
    try {
      const systemUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));
      if (systemUnits)
        await cp(realpathSync(systemUnits), join(root, 'usr/lib/systemd/system'), {
          recursive: true,
          verbatimSymlinks: true,
        });
      await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
      await mkdir(join(root, 'usr/local/bin'), { recursive: true });
      await writeFile(join(root, 'usr/local/bin/imgsweep'), '#!/bin/sh\n', { mode: 0o755 });
      for (const u of UNITS) await copyFile(join(DEPLOY, 'systemd', u), join(root, 'etc/systemd/system', u));
      const r = await exec(analyze, [`--root=${root}`, 'verify', ...UNITS], { timeoutMs: 60_000 });
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr.trim(), 'no warnings either (unknown keys are only warnings)').toBe('');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('the cron.d file has one valid schedule line running imgsweep apply, and its policy reference is the documented one', () => {
    const args = imgsweepCommandOfCron();
    expect(args.slice(0, 3)).toEqual(['apply', '-p', '/etc/imgsweep/policy.yaml']);
    expect(args).toContain('--yes');
    expect(args).toContain('--quiet');
    const text = readFileSync(join(DEPLOY, 'cron', 'imgsweep'), 'utf8');
    expect(text.endsWith('\n'), 'cron ignores a last line without a newline').toBe(true);
    expect(text, 'cron.d treats % as a newline').not.toMatch(/^[^#]*%/m);
  });

  it('Kubernetes manifests parse and hold a namespace, the policy ConfigMap, a watch DaemonSet and an apply CronJob', async () => {
    const objects = k8sObjects();
    const kinds = objects.map((o) => o.obj.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'CronJob', 'DaemonSet', 'Kustomization', 'Namespace']);
    const byKind = (kind: string) => objects.find((o) => o.obj.kind === kind)!.obj;

    const kustomization = byKind('Kustomization') as K8sObject & { resources: string[]; images: { name: string }[] };
    const files = objects
      .filter((o) => o.obj.kind !== 'Kustomization')
      .map((o) => o.file)
      .sort();
    expect([...kustomization.resources].sort()).toEqual(files);

    const configMap = byKind('ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(Object.keys(configMap.data)).toEqual(['policy.yaml']);
    const dir = await mkdtemp(join(tmpdir(), 'isw-k8s-'));
    try {
      await writeFile(join(dir, 'policy.yaml'), configMap.data['policy.yaml']!);
      const validate = await runCli(['validate', join(dir, 'policy.yaml')]);
      expect(validate.code, validate.stdout + validate.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const daemonSet = podSpecOf(byKind('DaemonSet'));
    const cronJob = podSpecOf(byKind('CronJob'));
    expect(daemonSet.containers[0]!.args[0]).toBe('watch');
    expect(cronJob.containers[0]!.args.slice(0, 3)).toEqual(['apply', '-p', '/etc/imgsweep/policy.yaml']);
    expect(cronJob.containers[0]!.args).toContain('--yes');
    expect((byKind('CronJob').spec as { schedule: string }).schedule).toMatch(CRON_SCHEDULE);
    expect((byKind('CronJob').spec as { concurrencyPolicy: string }).concurrencyPolicy).toBe('Forbid');
    expect(cronJob.nodeSelector?.['kubernetes.io/hostname'], 'one CronJob per node').toBeTruthy();
    expect(daemonSet.nodeSelector, 'only Docker nodes').toBeTruthy();

    for (const pod of [daemonSet, cronJob]) {
      const c = pod.containers[0]!;
      expect(kustomization.images.map((i) => i.name)).toContain(c.image);
      const sock = pod.volumes.find((v) => v.hostPath?.path === '/var/run/docker.sock');
      expect(sock?.hostPath?.type).toBe('Socket');
      expect(c.volumeMounts.find((m) => m.name === sock!.name)?.mountPath).toBe('/var/run/docker.sock');
      const state = pod.volumes.find((v) => v.hostPath?.path === '/var/lib/imgsweep');
      expect(
        c.volumeMounts.find((m) => m.name === state?.name)?.mountPath,
        "watch and apply share the node's state dir",
      ).toBe('/var/lib/imgsweep');
      expect(c.args.join(' ')).toContain('--state-dir /var/lib/imgsweep');
    }
    const policyVolume = cronJob.volumes.find((v) => v.configMap?.name === configMap.metadata?.name);
    expect(cronJob.containers[0]!.volumeMounts.find((m) => m.name === policyVolume?.name)?.mountPath).toBe(
      '/etc/imgsweep',
    );
  });

  it('the GitHub Actions workflow runs on a self-hosted runner, writes the plan to the step summary, then applies it', () => {
    const wf = parseYaml(readFileSync(join(DEPLOY, 'ci', 'github-actions.yml'), 'utf8')) as {
      on: { schedule: { cron: string }[] };
      jobs: Record<string, { 'runs-on': string[]; steps: { run?: string }[] }>;
    };
    expect(wf.on.schedule[0]!.cron).toMatch(CRON_SCHEDULE);
    const [job] = Object.values(wf.jobs);
    expect(job!['runs-on']).toContain('self-hosted');
    const runs = job!.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/imgsweep plan .*--format markdown.*>> "\$GITHUB_STEP_SUMMARY"/);
    expect(runs.indexOf('imgsweep plan')).toBeLessThan(runs.indexOf('imgsweep apply'));
  });

  it('docs/deployment.md names every metric, and its alert rules use only real metrics', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
    const names = metricNames();
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(doc, name).toContain(name);
    for (const topic of [
      'cron',
      'systemd',
      'Kubernetes',
      'GitHub Actions',
      'GitLab',
      'node_exporter',
      '--group-add',
      '--user root',
    ]) {
      expect(doc, topic).toContain(topic);
    }
    const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const ruleFiles = yamlBlocks
      .map((b) => parseYaml(b) as { groups?: { rules: { alert: string; expr: string }[] }[] })
      .filter((b) => b?.groups);
    const rules = ruleFiles.flatMap((f) => f.groups!.flatMap((g) => g.rules));
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      for (const used of rule.expr.match(/imgsweep_[a-z_]+/g) ?? [])
        expect(names, `${rule.alert}: ${used}`).toContain(used);
    }
    for (const path of new Set(doc.match(/deploy\/[\w./-]*\w(?![\w*-])/g) ?? []))
      expect(existsSync(join(ROOT, path)), path).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(engineTestsSkipped())('the image and the deployment command lines against a real dockerd', () => {
  const BASE = 'isw-node-base:test';
  const IMAGE = 'imgsweep:packaging-test';
  let t: TestEngine;
  let work: string;
  let socketPath: string;
  let socketGid: number;
  let build: CommandResult;

  /** docker run --rm --network none IMAGE ... with the test engine's socket mounted. */
  const run = (opts: string[], args: string[]) =>
    t.cli(['run', '--rm', '--network', 'none', '-v', `${socketPath}:/var/run/docker.sock`, ...opts, IMAGE, ...args]);

  /** A folder for bind mounts, writable whichever user the container runs as. */
  const sharedDir = async (name: string): Promise<string> => {
    const d = join(work, name);
    await mkdir(d, { recursive: true });
    await chmod(d, 0o777);
    return d;
  };

  const setUp = async (): Promise<void> => {
    work = await mkdtemp(join(tmpdir(), 'isw-pkg-'));
    const context = join(work, 'context');
    const [engine, prebuilt] = await Promise.all([
      // overlay2 where the data root can hold it: on vfs every build step and `docker run` copies the whole
      // 150 MB image (35 s for the build, 4 s a run on a loaded 2-core machine).
      startDockerd({ storageDrivers: ['overlay2', 'vfs'] }).then(async (e) => {
        t = e;
        await importNodeBase(e, BASE);
        return e;
      }),
      exec('sh', [join(DEPLOY, 'docker', 'prebuilt-context.sh'), context], { timeoutMs: 150_000 }),
    ]);
    if (prebuilt.code !== 0) throw new Error(`deploy/docker/prebuilt-context.sh failed: ${show(prebuilt)}`);
    socketPath = engine.host.slice('unix://'.length);
    socketGid = statSync(socketPath).gid;
    build = await engine.cli(
      ['build', '--build-arg', `BASE_IMAGE=${BASE}`, '--build-arg', 'PREBUILT=1', '-t', IMAGE, context],
      {
        env: { DOCKER_BUILDKIT: '0' },
      },
    );
  };
  let setup: Promise<void> | undefined;
  startImageSetup = () => {
    setup ??= setUp();
    setup.catch(() => undefined); // reported by the hook below
  };

  let tornDown: Promise<void> | undefined;
  tearDownImageSetup = () => {
    tornDown ??= (async () => {
      await setup?.catch(() => undefined);
      await t?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    })();
    return tornDown;
  };

  beforeAll(async () => {
    startImageSetup?.();
    await setup;
  }, 240_000);

  afterAll(() => tearDownImageSetup?.());

  it('builds with the legacy builder from a prebuilt context, on a base image made without a registry', async () => {
    expect(build.code, show(build)).toBe(0);
    expect(build.stdout).toContain(`Successfully tagged ${IMAGE}`);
    const info = await t.docker.getImage(IMAGE).inspect();
    expect(info.Config.User).toBe(`${NODE_UID}:${NODE_UID}`);
    expect(info.Config.Entrypoint).toEqual(['node', '/app/bin/imgsweep.js']);
    expect(info.Config.Cmd).toEqual(['--help']);
    expect(info.Config.Env).toContain('XDG_STATE_HOME=/var/lib');
    expect(info.Config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'imgsweep',
      'org.opencontainers.image.licenses': 'MIT',
      'org.opencontainers.image.version': PKG.version,
    });
  });

  it('holds the package with production dependencies only, and a state dir the non-root user owns', async () => {
    const script = `const fs = require('fs'); const s = (p) => fs.existsSync(p);
      console.log(JSON.stringify({
        app: fs.readdirSync('/app').sort(),
        dev: ['typescript', 'vitest', 'eslint'].filter((d) => s('/app/node_modules/' + d)),
        prod: ['yaml', 'ajv', 'docker-modem', 'minimatch'].filter((d) => s('/app/node_modules/' + d)),
        state: fs.statSync('/var/lib/imgsweep').uid, uid: process.getuid() }));`;
    const r = await t.cli(['run', '--rm', '--network', 'none', '--entrypoint', 'node', IMAGE, '-e', script]);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      app: ['bin', 'dist', 'node_modules', 'package.json', 'policies', 'schemas'],
      dev: [],
      prod: ['yaml', 'ajv', 'docker-modem', 'minimatch'],
      state: NODE_UID,
      uid: NODE_UID,
    });
  });

  it('answers --version, and --help by default', async () => {
    const version = await t.cli(['run', '--rm', '--network', 'none', IMAGE, '--version']);
    expect(version.code, show(version)).toBe(0);
    expect(version.stdout.trim()).toBe(PKG.version);
    const help = await t.cli(['run', '--rm', '--network', 'none', IMAGE]);
    expect(help.code, show(help)).toBe(0);
    expect(help.stdout).toContain('Usage: imgsweep COMMAND');
  });

  it("plans against the mounted socket as uid 1000 with the socket's group, on a read-only root filesystem", async () => {
    const opts = ['--group-add', String(socketGid), '--read-only', '-v', 'isw-pkg-state:/var/lib/imgsweep'];
    const text = await run(opts, ['plan', '-p', '/app/policies/dangling-only.yaml']);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toContain('imgsweep plan: policy dangling-only (/app/policies/dangling-only.yaml)');
    // The engine's images as the test engine has them: the base, and the image this very container runs.
    expect(text.stdout).toContain(BASE);
    expect(text.stdout).toMatch(new RegExp(`${IMAGE.replace(/[.:]/g, '\\$&')} +used by running container`));
    expect(text.stdout).toMatch(/^Plan: delete \d+ images/m);
    expect(text.stderr, 'the usage record is saved in the state volume').toBe('');
  });

  it("without the socket's group, uid 1000 cannot connect: exit 1, and it says why", async () => {
    const denied = await run([], ['plan', '-p', '/app/policies/dangling-only.yaml']);
    expect(denied.code, show(denied)).toBe(1);
    expect(denied.stderr).toMatch(/EACCES|permission denied/i);
  });

  it("applies as in the documented cron line (--user root, fixed --hostname): takes over a killed run's lock, writes audit log and metrics", async () => {
    // Root's state folder is root's alone, as /var/lib/imgsweep is (imgsweep refuses one others may write to).
    const state = join(work, 'state');
    await mkdir(state, { mode: 0o700 });
    const out = await sharedDir('out');
    // The engine's key names the lock file; it rests on the engine's identity, not on the address used.
    const plan = await runCli([
      'plan',
      '-p',
      join(ROOT, 'policies', 'dangling-only.yaml'),
      '--format',
      'json',
      '--host',
      t.host,
      '--state-dir',
      join(work, 'host-state'),
    ]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const key = (JSON.parse(plan.stdout) as { engine: { key: string } }).engine.key;
    // What a container killed mid-run leaves: its PID (1: the entrypoint) and host name.
    await writeFile(
      join(state, `${key}.lock`),
      `${JSON.stringify({ pid: 1, host: 'imgsweep', startedAt: '2026-01-01T00:00:00Z', command: 'imgsweep apply' })}\n`,
    );

    const r = await run(
      ['--hostname', 'imgsweep', '--user', 'root', '-v', `${state}:/var/lib/imgsweep`, '-v', `${out}:/metrics`],
      [
        'apply',
        '-p',
        '/app/policies/dangling-only.yaml',
        '--yes',
        '--quiet',
        '--audit-log',
        '/metrics/audit.jsonl',
        '--metrics-file',
        '/metrics/imgsweep.prom',
      ],
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout + r.stderr, '--quiet').toBe('');
    expect(existsSync(join(state, `${key}.lock`)), 'taken over, then released').toBe(false);
    const metrics = await readFile(join(out, 'imgsweep.prom'), 'utf8');
    expect(metrics).toContain('imgsweep_last_run_success{engine="unix:///var/run/docker.sock"} 1');
    expect(statSync(join(out, 'imgsweep.prom')).mode & 0o044, 'node_exporter, as another user, may read it').toBe(
      0o044,
    );
  });

  it("the repository's own build context (normal, networked build) holds the sources and no host build output", async () => {
    // The normal path needs the npm registry inside the build; here only its context can be checked: the
    // docker CLI applies .dockerignore, the engine stores what is left (FROM scratch: no copy of a base).
    const df = join(work, 'Dockerfile.context');
    await writeFile(df, 'FROM scratch\nCOPY . /ctx\n');
    const b = await t.cli(['build', '-q', '-f', df, '-t', 'isw-context:test', ROOT], { env: { DOCKER_BUILDKIT: '0' } });
    expect(b.code, show(b)).toBe(0);
    const container = await t.docker.createContainer({ Image: 'isw-context:test', Cmd: ['none'] });
    const tar = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let listing = '';
    tar.stdout.on('data', (c: Buffer) => (listing += c.toString()));
    const done = new Promise<number | null>((resolve) => tar.on('close', resolve));
    (await container.export()).pipe(tar.stdin);
    expect(await done).toBe(0);
    await container.remove();
    const top = [
      ...new Set(
        listing
          .split('\n')
          .filter((l) => l.startsWith('ctx/'))
          .map((l) => l.split('/')[1]!)
          .filter((n) => n !== ''),
      ),
    ];
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src',
      'bin',
      'schemas',
      'policies',
    ]) {
      expect(top, needed).toContain(needed);
    }
    for (const excluded of ['node_modules', 'dist', '.git', 'test', 'coverage', '.imgsweep-test'])
      expect(top, excluded).not.toContain(excluded);
  });

  // ------- the command lines of deploy/, with their host paths moved into a temp folder -------

  /** Maps the absolute paths of deploy/ onto a temp folder and points the command at the test engine. */
  const relocated = async (
    name: string,
    args: string[],
    policySource: string,
  ): Promise<{ args: string[]; dir: string }> => {
    const dir = join(work, name);
    await mkdir(join(dir, 'etc'), { recursive: true });
    await mkdir(join(dir, 'textfile'), { recursive: true });
    await mkdir(join(dir, 'log'), { recursive: true });
    await copyFile(policySource, join(dir, 'etc', 'policy.yaml'));
    const map: [from: string, to: string][] = [
      ['/etc/imgsweep/policy.yaml', join(dir, 'etc', 'policy.yaml')],
      ['/var/lib/imgsweep', join(dir, 'state')],
      ['/var/log/imgsweep/', `${join(dir, 'log')}/`],
      ['/var/lib/node_exporter/textfile/', `${join(dir, 'textfile')}/`],
    ];
    const out = args.map((a) => {
      const hit = map.find(([from]) => a === from || (from.endsWith('/') && a.startsWith(from)));
      if (hit) return hit[1] + a.slice(hit[0].length);
      if (a.startsWith('/')) throw new Error(`${name}: no test location for ${a}`);
      return a;
    });
    expect(out, `${name} must name its state dir (else root's /var/lib/imgsweep is used)`).toContain('--state-dir');
    return { args: [...out, '--host', t.host], dir };
  };

  const expectMetrics = async (dir: string) => {
    const metrics = await readFile(join(dir, 'textfile', 'imgsweep.prom'), 'utf8');
    expect(metrics).toContain(`imgsweep_last_run_success{engine="${t.host}"} 1`);
  };

  /** Starts `imgsweep watch ARGS` as a process, lets it follow the engine, stops it with SIGTERM: exit 0. */
  const expectWatchRuns = async (name: string, watchArgs: string[]) => {
    const { args } = await relocated(name, watchArgs, join(ROOT, 'policies', 'dangling-only.yaml'));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'imgsweep.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // SIGTERM once it follows the engine's events (a fixed pause was too short on a loaded machine: the signal
    // came before the command had set up its handler).
    for (const until = Date.now() + 30_000; !stderr.includes('following container events') && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stopped after \d+ events/);
  };

  it('the cron line runs: imgsweep apply of the documented policy, with audit log and metrics', async () => {
    const args = imgsweepCommandOfCron();
    const policy = join(ROOT, 'policies', 'production-host.yaml');
    expect((await runCli(['validate', policy])).code).toBe(0);
    const { args: cmd, dir } = await relocated('cron', args, policy);
    const r = await runCli(cmd);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr, '--quiet: nothing for cron to mail').toBe('');
    await expectMetrics(dir);
  });

  it('the systemd ExecStart lines run: apply once, watch until SIGTERM', async () => {
    const exec0 = (file: string) =>
      parseUnit(readFileSync(join(DEPLOY, 'systemd', file), 'utf8'))
        .get('Service')!
        .get('ExecStart')!
        .at(-1)!
        .split(' ');
    const [bin, ...applyArgs] = exec0('imgsweep-apply.service');
    expect(bin).toBe('/usr/local/bin/imgsweep');
    const { args, dir } = await relocated('systemd', applyArgs, join(ROOT, 'policies', 'production-host.yaml'));
    const r = await runCli(args);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectMetrics(dir);

    const [, ...watchArgs] = exec0('imgsweep-watch.service');
    await expectWatchRuns('systemd-watch', watchArgs);
  });

  it('the Kubernetes CronJob and DaemonSet arguments run against an engine', async () => {
    const objects = k8sObjects();
    const policy = join(work, 'k8s-policy.yaml');
    const configMap = objects.find((o) => o.obj.kind === 'ConfigMap')!.obj as K8sObject & {
      data: Record<string, string>;
    };
    await writeFile(policy, configMap.data['policy.yaml']!);
    const cron = podSpecOf(objects.find((o) => o.obj.kind === 'CronJob')!.obj).containers[0]!.args;
    const { args, dir } = await relocated('k8s-cronjob', cron, policy);
    const r = await runCli(args);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectMetrics(dir);
    await expectWatchRuns(
      'k8s-watch',
      podSpecOf(objects.find((o) => o.obj.kind === 'DaemonSet')!.obj).containers[0]!.args,
    );
  });

  it('the GitHub Actions steps run: plan to the step summary as Markdown, then apply the saved plan', async () => {
    const wf = parseYaml(readFileSync(join(DEPLOY, 'ci', 'github-actions.yml'), 'utf8')) as {
      jobs: Record<string, { env: Record<string, string>; steps: { run?: string }[] }>;
    };
    const [job] = Object.values(wf.jobs);
    const env: Record<string, string> = { ...job!.env, GITHUB_STEP_SUMMARY: '/dev/null' };
    const lines = job!.steps
      .flatMap((s) => (s.run ?? '').split('\n'))
      .map((l) => l.trim())
      .filter((l) => l.startsWith('imgsweep '));
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['validate', 'plan', 'apply']);
    const dir = join(work, 'github');
    await mkdir(join(dir, 'etc'), { recursive: true });
    await copyFile(join(ROOT, 'policies', 'ci-runner.yaml'), join(dir, 'etc', 'policy.yaml'));
    // The job's relative files, in a temp folder instead of the runner's work dir.
    const files: Record<string, string> = {
      [env.POLICY!]: join(dir, 'etc', 'policy.yaml'),
      'plan.json': join(dir, 'plan.json'),
      'audit.jsonl': join(dir, 'audit.jsonl'),
    };
    const argsOf = (line: string) =>
      shellWords(line, env)
        .slice(1)
        .map((w) => files[w] ?? w);

    const validate = await runCli(argsOf(lines[0]!));
    expect(validate.code, validate.stdout + validate.stderr).toBe(0);
    const stateArgs = ['--state-dir', join(dir, 'state'), '--host', t.host];
    const plan = await runCli([...argsOf(lines[1]!), ...stateArgs]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^## imgsweep plan/);
    expect(existsSync(join(dir, 'plan.json'))).toBe(true);

    const apply = await runCli([...argsOf(lines[2]!), ...stateArgs]);
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
  });

  it("the policy-diff workflow's steps, run in a git checkout, write the pull request's Markdown diff", async () => {
    const wf = parseYaml(readFileSync(join(DEPLOY, 'ci', 'github-policy-diff.yml'), 'utf8')) as {
      on: { pull_request: { paths: string[] } };
      permissions: Record<string, string>;
      jobs: Record<string, { env: Record<string, string>; steps: { name?: string; run?: string }[] }>;
    };
    const [job] = Object.values(wf.jobs);
    expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining([job!.env.POLICY, job!.env.INVENTORY]));
    expect(wf.permissions['pull-requests']).toBe('write');
    const step = (name: string) => job!.steps.find((x) => x.name === name)!.run!;
    // A repository whose main branch has the example policy and inventory; the pull request protects pr-1* tags.
    const repo = join(work, 'policy-diff');
    const shim = join(work, 'policy-diff-bin');
    await mkdir(join(repo, '.github'), { recursive: true });
    await mkdir(shim, { recursive: true });
    await writeFile(
      join(shim, 'imgsweep'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin', 'imgsweep.js')}" "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const git = async (...args: string[]) => {
      const r = await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
      expect(r.code, show(r)).toBe(0);
    };
    const policy = readFileSync(join(ROOT, 'policies', 'ci-runner.yaml'), 'utf8');
    await git('init', '-q', '-b', 'main');
    await writeFile(join(repo, job!.env.POLICY!), policy);
    await copyFile(join(ROOT, 'examples', 'inventory.json'), join(repo, job!.env.INVENTORY!));
    await git('add', '.');
    await git('commit', '-q', '-m', 'base');
    await git('update-ref', 'refs/remotes/origin/main', 'HEAD');
    await writeFile(join(repo, job!.env.POLICY!), policy.replace('"v*.*.*"]', '"v*.*.*", "pr-1*"]'));
    const env = {
      ...process.env,
      ...job!.env,
      PATH: `${shim}:${process.env.PATH ?? ''}`,
      GITHUB_BASE_REF: 'main',
      GITHUB_STEP_SUMMARY: join(work, 'policy-diff-summary.md'),
    };
    for (const name of ["The base branch's policy", 'Diff']) {
      const r = await exec('bash', ['-e', '-c', step(name)], { cwd: repo, env });
      expect(r.code, show(r)).toBe(0);
    }
    const md = readFileSync(join(repo, 'diff.md'), 'utf8');
    expect(md).toMatch(/^### imgsweep: what the policy change does\n/);
    expect(md).toMatch(
      /^\| `[0-9a-f]{12}` \| `registry\.acme\.io\/ci\/[a-z]+:pr-1\d+` \| deleted by .* \| kept: tag pr-1\d+ /m,
    );
    expect(readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8')).toBe(md);
    expect(step('Comment on the pull request')).toContain('--body-file diff.md');
  });

  it('the GitLab runner cron script runs with its paths moved by environment variables', async () => {
    const dir = join(work, 'gitlab');
    const shim = join(dir, 'bin');
    await mkdir(shim, { recursive: true });
    await mkdir(join(dir, 'textfile'), { recursive: true });
    await writeFile(
      join(shim, 'imgsweep'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin', 'imgsweep.js')}" "$@"\n`,
      { mode: 0o755 },
    );
    const env = {
      PATH: `${shim}:${process.env.PATH ?? ''}`,
      HOME: dir,
      DOCKER_HOST: t.host,
      IMGSWEEP_POLICY: join(DEPLOY, 'ci', 'gitlab-runner.yaml'),
      IMGSWEEP_STATE_DIR: join(dir, 'state'),
      IMGSWEEP_AUDIT_LOG: join(dir, 'log', 'audit.jsonl'),
      IMGSWEEP_METRICS_FILE: join(dir, 'textfile', 'imgsweep.prom'),
    };
    const r = await exec('sh', [join(DEPLOY, 'ci', 'gitlab-runner-cron.sh')], { env });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout + r.stderr, 'quiet for cron').toBe('');
    await expectMetrics(dir);
    expect(existsSync(dirname(env.IMGSWEEP_AUDIT_LOG))).toBe(true);
  });
});
