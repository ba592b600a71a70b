import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory, serializeInventory } from '../../src/inventory/snapshot.js';
import { runCli } from '../support/cli.js';

const INVENTORY = 'examples/inventory.json';
const NOW = '2026-11-27T12:00:00Z';
const example = parseInventory(readFileSync(INVENTORY, 'utf8'), INVENTORY);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-cli-inventory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('imgsweep inventory --inventory FILE', () => {
  it('prints a table: the engine, one row per image, the totals', async () => {
    const r = await runCli(['inventory', '--inventory', INVENTORY]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'ci-runner-07: docker 20.10.24 (API 1.41, overlay2, classic image store) at unix:///var/run/docker.sock, captured 2026-11-27T11:00:00Z',
    );
    expect(lines[2]).toMatch(/^ {2}IMAGE +REFERENCES +CREATED +FIRST SEEN +LAST USED +SIZE +PARENT +CONTAINERS$/);
    const rows = lines.filter((l) => /^ {2}[0-9a-f]{12} {2}/.test(l));
    expect(rows).toHaveLength(example.images.length);
    for (const image of example.images)
      expect(
        rows.filter((l) => l.startsWith(`  ${image.id.slice(7, 19)}  `)),
        image.id,
      ).toHaveLength(1);
    expect(lines.at(-1)).toBe('62 images, 11 containers; /var/lib/docker: 88.1% used (94.0 GB of 107 GB)');
  });

  it('shows each container on the row of its image, with its state', async () => {
    const { stdout } = await runCli(['inventory', '--inventory', INVENTORY]);
    const row = (id: string) => stdout.split('\n').find((l) => l.startsWith(`  ${id}  `)) ?? '';
    expect(row('e433431bd7d9')).toMatch(/ ci-app\(running\)$/);
    expect(row('c76e693b9067')).toMatch(/ ci-worker-debug\(paused\)$/);
    expect(row('7f921bd25bc5')).toMatch(/ nightly-e2e\(created\)$/);
    expect(row('8d0c2bb9930a')).toMatch(/ migrate-db\(exited\)$/);
    expect(row('9317d4324b98')).toMatch(/ <none> +(\S+ \S+ +){3}(\(\S+\) +)?[\d.]+ [kMG]?B +4f5dd7c4711a$/);
  });

  it('shows when each image was first seen and last used, as the usage record has them (what LRU goes by)', async () => {
    const { stdout } = await runCli(['inventory', '--inventory', INVENTORY]);
    const row = (id: string) => stdout.split('\n').find((l) => l.startsWith(`  ${id}  `)) ?? '';
    for (const image of example.images) {
      const use = example.usage[image.id];
      const cells = row(image.id.slice(7, 19));
      const at = (iso: string) => iso.slice(0, 16).replace('T', ' ');
      if (use) expect(cells, image.id).toContain(`  ${at(use.firstSeen)}  ${at(use.lastUsed)} (${use.source})  `);
      else expect(cells, image.id).toMatch(/ {2}- {2,}- {2,}/);
    }
    // In JSON, the same figures are in `usage`, by image ID.
    const json = JSON.parse((await runCli(['inventory', '--inventory', INVENTORY, '--json'])).stdout) as {
      usage: Record<string, { firstSeen: string; lastUsed: string }>;
    };
    expect(json.usage).toEqual(example.usage);
  });

  it('matches the text snapshot', async () => {
    const { stdout } = await runCli(['inventory', '--inventory', INVENTORY]);
    await expect(stdout).toMatchFileSnapshot('./__snapshots__/inventory-example.txt');
  });

  it('prints with --format json exactly serializeInventory of the file', async () => {
    const r = await runCli(['inventory', '--inventory', INVENTORY, '--format', 'json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(serializeInventory(example));
    // The example is stored canonically, so that is the file itself.
    expect(r.stdout).toBe(readFileSync(INVENTORY, 'utf8'));
  });

  it('treats --json as --format json', async () => {
    const [json, format] = [
      await runCli(['inventory', '--inventory', INVENTORY, '--json']),
      await runCli(['inventory', '--inventory', INVENTORY, '--format', 'json']),
    ];
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(format.stdout);
  });

  it('saves with -o a snapshot that plan --inventory accepts, and prints nothing else on stdout', async () => {
    const snap = join(dir, 'snap.json');
    const r = await runCli(['inventory', '--inventory', INVENTORY, '-o', snap]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toBe(`saved 62 images and 11 containers to ${snap}\n`);
    expect(await readFile(snap, 'utf8')).toBe(serializeInventory(example));

    const fromSnap = await runCli([
      'plan',
      '-p',
      'policies/ci-runner.yaml',
      '--inventory',
      snap,
      '--now',
      NOW,
      '--format',
      'json',
    ]);
    const fromExample = await runCli([
      'plan',
      '-p',
      'policies/ci-runner.yaml',
      '--inventory',
      INVENTORY,
      '--now',
      NOW,
      '--format',
      'json',
    ]);
    expect(fromSnap.code).toBe(0);
    expect(fromSnap.stdout).toBe(fromExample.stdout);
    const explained = await runCli([
      'explain',
      'redis:7',
      '-p',
      'policies/ci-runner.yaml',
      '--inventory',
      snap,
      '--now',
      NOW,
    ]);
    expect(explained.code).toBe(0);
  });

  it('with -o and --format json both saves and prints', async () => {
    const snap = join(dir, 'both.json');
    const r = await runCli(['inventory', '--inventory', INVENTORY, '-o', snap, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(await readFile(snap, 'utf8'));
  });

  it('with -o and --quiet says nothing', async () => {
    const snap = join(dir, 'quiet.json');
    const r = await runCli(['inventory', '--inventory', INVENTORY, '-o', snap, '--quiet']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await stat(snap)).size).toBeGreaterThan(0);
  });

  it('rejects bad usage with exit 2', async () => {
    for (const args of [
      ['inventory', '--inventory', INVENTORY, '--format', 'markdown'],
      ['inventory', '--inventory', INVENTORY, 'extra'],
      ['inventory', '--inventory', INVENTORY, '--host', 'unix:///nonexistent/docker.sock'],
      ['inventory', '--inventory', join(dir, 'missing.json')],
    ]) {
      const r = await runCli(args);
      expect(r, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr, args.join(' ')).toMatch(/^imgsweep: /);
    }
  });

  it('fails with exit 1 and one line when the engine is unreachable', async () => {
    const r = await runCli(['inventory', '--host', 'unix:///nonexistent/docker.sock']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/nonexistent/docker.sock');
  });
});
