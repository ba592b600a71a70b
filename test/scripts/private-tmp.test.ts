/**
 * scripts/private-tmp.mjs, which `npm test` runs its steps through: the commands get TMPDIR in one new private
 * folder, which is removed afterwards however they end, and whatever they leave in the temp folder itself is named.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult } from '../support/process.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/private-tmp.mjs', import.meta.url));

describe('scripts/private-tmp.mjs', () => {
  /** The temp folder the script sees as the system's. */
  let outer: string;

  /** Runs the script on `sh -c SCRIPT`; onStart gets the wrapper process once it runs. */
  const wrap = (
    shell: string,
    opts: { env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {},
  ): Promise<CommandResult> =>
    new Promise((resolve, reject) => {
      const env = { PATH: process.env.PATH, TMPDIR: outer, ...opts.env };
      const child = spawn(process.execPath, [SCRIPT, 'sh', '-c', shell], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 128 }));
      if (child.pid !== undefined) opts.onStart?.(child.pid);
    });

  beforeAll(async () => {
    outer = await mkdtemp(join(tmpdir(), 'isw-ptmp-'));
  });

  afterAll(async () => {
    if (outer) await rm(outer, { recursive: true, force: true });
  });

  it('gives the command a short private TMPDIR, removes it afterwards, and passes on the exit status', async () => {
    const r = await wrap('echo "$TMPDIR"; mkdir "$TMPDIR/deep" && touch "$TMPDIR/deep/file" && exit 3');
    expect(r.code, r.stderr).toBe(3);
    const dir = r.stdout.trim();
    expect(dir).toMatch(new RegExp(`^${outer}/iswt-\\w{6}$`));
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(outer)).toEqual([]);
    expect(r.stderr).toBe('');
  });

  it('on SIGTERM: passes it on, waits for the command, removes the folder, exits 143', async () => {
    const marker = join(outer, 'marker');
    const script = `sleep 30 & trap 'kill $!; echo stopped; exit 0' TERM; echo "$TMPDIR" > ${marker}; wait`;
    const r = await wrap(script, {
      onStart: (pid) => {
        const poll = setInterval(() => {
          if (existsSync(marker)) {
            clearInterval(poll);
            setTimeout(() => process.kill(pid, 'SIGTERM'), 100);
          }
        }, 20);
      },
    });
    expect(r.code, r.stderr).toBe(143);
    expect(r.stdout).toBe('stopped\n');
    expect(existsSync((await readFile(marker, 'utf8')).trim())).toBe(false);
    await rm(marker);
  });

  it('names what the command left in the temp folder itself; under CI that fails the run', async () => {
    const leak = 'mkdir "$TMPDIR/../left-behind"';
    const local = await wrap(leak);
    expect(local.code).toBe(0);
    expect(local.stderr).toBe(`private-tmp: left in ${outer} (created while the commands ran): left-behind\n`);
    await rm(join(outer, 'left-behind'), { recursive: true });

    const ci = await wrap(leak, { env: { CI: 'true' } });
    expect(ci.code).toBe(1);
    expect(ci.stderr).toContain('left-behind');
    await rm(join(outer, 'left-behind'), { recursive: true });
  });
});
