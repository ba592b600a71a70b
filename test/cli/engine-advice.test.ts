import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('an unreachable engine: the advice fits what named it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imgsweep-advice-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'version: 1\nrules:\n  - name: x\n    match: { untagged: true }\n');
  const socket = join(dir, 'nothing-here.sock');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--host given: check that address (not "use --host")', async () => {
    const r = await runCli(['plan', '-p', policy, '--host', `unix://${socket}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^imgsweep: cannot reach the container engine at unix://${socket} \\(from --host\\): .*; check the address given with --host, and that the engine runs there\\n$`,
      ),
    );
  });

  it('DOCKER_HOST: check it, or name the engine with --host', async () => {
    const r = await runCli(['plan', '-p', policy], { env: { DOCKER_HOST: `unix://${socket}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(from DOCKER_HOST\): .*; check DOCKER_HOST, or name the engine with --host URL\n$/);
  });
});
