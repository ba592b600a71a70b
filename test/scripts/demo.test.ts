import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('plans the example inventory with the build npm ci made, without building again', () => {
    const r = spawnSync('npm', ['run', '--silent', 'demo'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imgsweep plan: /);
    expect(r.stdout).toMatch(/^Plan: delete \d+ images/m);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/tsc|esbuild|compile-validators/);
  });
});
