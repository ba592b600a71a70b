import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

/** Each command and what its help must show of the usage there. */
const USAGE: Record<string, string[]> = {
  validate: ['imgsweep validate POLICY...'],
  plan: ['imgsweep plan -p POLICY', '[-o plan.json]', '[--format text|json|markdown|html]'],
  apply: ['imgsweep apply -p POLICY [--yes]', 'imgsweep apply PLAN.json'],
  inventory: ['imgsweep inventory [-o inventory.json] [--format text|json]'],
  explain: ['imgsweep explain REF -p POLICY'],
  test: ['imgsweep test DIR|FILE...', '--format text|junit'],
  diff: ['imgsweep diff -p OLD.yaml -p NEW.yaml', 'imgsweep diff OLD-PLAN.json NEW-PLAN.json', '--exit-code'],
  schema: ['imgsweep schema [policy|plan'],
};

describe('imgsweep --help and help COMMAND', () => {
  it('--help lists every command and the exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('Usage: imgsweep COMMAND [options]');
    for (const name of Object.keys(USAGE)) expect(r.stdout).toMatch(new RegExp(`^ {2}${name} +\\S`, 'm'));
    expect(r.stdout).toMatch(/Exit codes: 0 .*1 .*2 .*3 /s);
    expect(r.stdout).toContain('--host URL');
    expect(r.stdout).toContain('DOCKER_HOST');
  });

  it('-h and help with no command are --help', async () => {
    const help = (await runCli(['--help'])).stdout;
    expect(await runCli(['-h'])).toEqual({ code: 0, stdout: help, stderr: '' });
    expect(await runCli(['help'])).toEqual({ code: 0, stdout: help, stderr: '' });
  });

  it('no command at all shows the help but fails (exit 2)', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain('Usage: imgsweep COMMAND');
  });

  it.each(Object.entries(USAGE))('help %s shows its usage', async (name, fragments) => {
    const r = await runCli(['help', name]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(`Usage: imgsweep ${name}`)).toBe(true);
    for (const fragment of fragments) expect(r.stdout).toContain(fragment);
  });

  it.each(Object.keys(USAGE))('%s --help and %s -h are help %s', async (name) => {
    const help = await runCli(['help', name]);
    expect(await runCli([name, '--help'])).toEqual(help);
    expect(await runCli([name, '-h'])).toEqual(help);
  });

  it('engine-facing commands list the common options', async () => {
    for (const name of ['plan', 'apply', 'inventory', 'explain']) {
      const { stdout } = await runCli(['help', name]);
      for (const option of ['--host URL', '--now ISO', '--state-dir DIR'])
        expect(stdout, `${name} ${option}`).toContain(option);
    }
  });

  it('help for an unknown command fails with exit 2', async () => {
    const r = await runCli(['help', 'prune']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('"prune"');
  });

  it('an unknown command fails with exit 2 and points at --help', async () => {
    const r = await runCli(['prune', '-p', 'policies/ci-runner.yaml']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('imgsweep: unknown command "prune" (see imgsweep --help)\n');
  });

  it('--version and -V print the package version', async () => {
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(await runCli(['-V'])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});

describe('imgsweep schema', () => {
  it.each([
    [[], 'policy'],
    [['policy'], 'policy'],
    [['plan'], 'plan'],
    [['inventory'], 'inventory'],
  ])('schema %j prints the %s JSON Schema', async (args, which) => {
    const r = await runCli(['schema', ...args]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const schema = JSON.parse(r.stdout) as { $schema: string; $id: string };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(new RegExp(`/${which}\\.schema\\.json$`));
    expect(r.stdout).toBe(readFileSync(`schemas/${which}.schema.json`, 'utf8'));
  });

  it.each([[['bogus']], [['policy', 'plan']]])('schema %j fails with exit 2', async (args) => {
    const r = await runCli(['schema', ...args]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^imgsweep: schema: expected one of policy, plan, inventory/);
  });
});

describe("each command's help lists the shared options it takes, and only those", () => {
  const SHARED = ['host', 'context', 'tls-verify', 'tls-ca', 'tls-cert', 'tls-key', 'inventory', 'now'];
  const parsers: Record<string, Promise<{ OPTIONS: Record<string, unknown> }>> = {
    plan: import('../../src/cli/commands/plan.js'),
    apply: import('../../src/cli/commands/apply.js'),
    inventory: import('../../src/cli/commands/inventory.js'),
    explain: import('../../src/cli/commands/explain.js'),
    watch: import('../../src/cli/commands/watch.js'),
    validate: import('../../src/cli/commands/validate.js'),
    diff: import('../../src/cli/commands/diff.js'),
    test: import('../../src/cli/commands/test.js'),
  };
  // apply parses --inventory only to say why it cannot be applied.
  const takes = (command: string, option: string, parsed: Record<string, unknown>) =>
    option in parsed && !(command === 'apply' && option === 'inventory');

  it.each(Object.keys(parsers))('%s', async (command) => {
    const { OPTIONS } = await parsers[command]!;
    const help = (await runCli(['help', command])).stdout;
    const listed = (option: string) => new RegExp(`^ {2}--${option}\\b`, 'm').test(help);
    for (const option of [...SHARED, 'state-dir', 'timeout', 'json', 'quiet'])
      expect(listed(option), `${command} --${option}`).toBe(takes(command, option, OPTIONS));
  });

  it('watch and apply do not offer --inventory; watch does not offer --now', async () => {
    expect((await runCli(['help', 'watch'])).stdout).not.toMatch(/--inventory|--now/);
    expect((await runCli(['help', 'apply'])).stdout).not.toContain('--inventory');
  });
});
