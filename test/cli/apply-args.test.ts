import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

/**
 * `apply -p` connects to its engines while it reads the policy. What the command line and the policy get wrong
 * is still reported first and alone, in the usual order, whatever connecting found meanwhile.
 */
describe('apply: checks before any engine is used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imgsweep-apply-args-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nrules:\n  - name: x\n    match: { olderThan: soon }\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a bad policy without --yes and without a terminal: the policy errors, not the missing terminal', async () => {
    const r = await runCli(['apply', '-p', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+ `, 'm'));
    expect(r.stderr).not.toMatch(/terminal/);
  });

  it('a bad policy with --yes and an unreachable engine: the policy errors alone', async () => {
    const r = await runCli(['apply', '-p', bad, '--yes', '--host', 'tcp://127.0.0.1:1', '--timeout', '2s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+ /);
    expect(r.stderr).not.toMatch(/cannot reach|ECONNREFUSED/);
  });

  it('what connecting warns of waits for the checks: a bad policy on a plain tcp:// engine prints no warning', async () => {
    const r = await runCli(['apply', '-p', bad, '--yes', '--host', 'tcp://192.0.2.1:2375', '--timeout', '1s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+ /);
    expect(r.stderr).not.toMatch(/warning/);
  });

  it('a good policy on an unreachable engine: the warning, then the engine error, once each', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'version: 1\nrules:\n  - name: x\n    match: { untagged: true }\n');
    const r = await runCli(['apply', '-p', good, '--yes', '--host', 'tcp://192.0.2.1:2375', '--timeout', '1s']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^imgsweep: warning: tcp:\/\/192\.0\.2\.1:2375: traffic to the engine is not encrypted/);
    expect(lines[1]).toMatch(/^imgsweep: .*192\.0\.2\.1:2375/);
  });

  it('an unreachable engine and a metrics file that cannot be written: both errors, exit 1 (a fault of the run, not of its input)', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'version: 1\nrules:\n  - name: x\n    match: { untagged: true }\n');
    const metrics = join(dir, 'no such folder', 'imgsweep.prom');
    const r = await runCli([
      'apply',
      '-p',
      good,
      '--yes',
      '--host',
      'unix:///nonexistent/docker.sock',
      '--timeout',
      '1s',
      '--metrics-file',
      metrics,
    ]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^imgsweep: cannot write .*no such folder\/imgsweep\.prom: .*ENOENT/),
      expect.stringMatching(/^imgsweep: .*\/nonexistent\/docker\.sock/),
    ]);
  });
});

describe('imgsweep apply: what to apply', () => {
  it.each([[[]], [['a.json', 'b.json']], [['a.json', 'b.json', '-p', 'policies/ci-runner.yaml']]])(
    'neither a policy nor one plan (%j): exit 2 with the three ways',
    async (args) => {
      const r = await runCli(['apply', '--yes', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "imgsweep: apply: give -p POLICY (plan and execute), one saved PLAN.json, or both (run only the saved plan's steps the policy still plans)\n",
      );
    },
  );
});
