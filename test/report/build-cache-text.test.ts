import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeInventory } from '../../src/inventory/serialize.js';
import { runCli } from '../support/cli.js';
import { makePlan } from '../../src/plan/plan.js';
import { formatPlanMarkdown, formatPlanText, summaryLine } from '../../src/report/plan-format.js';
import { NOW, inventory, policy } from '../support/builders.js';

const POLICY = policy('version: 1\nbuildCache: { unusedFor: 1h }\n');
const record = (id: string, o: { shared?: boolean; inUse?: boolean } = {}) => ({
  id,
  parents: [],
  type: 'regular',
  description: `mount / from exec ${id}`,
  inUse: o.inUse ?? false,
  shared: o.shared ?? false,
  size: 2_000_000,
  createdAt: '2026-11-20T00:00:00.000Z',
  lastUsedAt: '2026-11-21T00:00:00.000Z',
  usageCount: 1,
});

describe('the build cache in the plan text', () => {
  it('lists what goes and counts what stays, by reason; the summary counts its bytes apart from images', () => {
    const plan = makePlan({
      policy: POLICY,
      inventory: inventory([], [], {
        buildCache: [record('aaa111'), record('bbb222', { shared: true }), record('ccc333', { inUse: true })],
      }),
      now: NOW,
    });
    const text = formatPlanText(plan);
    expect(text).toContain('Build cache: 3 records, 6.0 MB; remove 1 record (2.0 MB).');
    expect(text).toMatch(/^ {2}aaa111 +regular +2\.0 MB +2026-11-21 00:00 +unusedFor +mount \/ from exec aaa111$/m);
    expect(text).toContain('Build cache kept: 1 shared with an image (keepShared); 1 in use by a build');
    expect(text).not.toContain('Nothing to do.');
    expect(summaryLine(plan)).toContain('remove 1 build-cache record (2.0 MB)');
    expect(formatPlanMarkdown(plan)).toContain('| `aaa111` | regular | 2.0 MB |');
  });

  it('Podman: not applicable, nothing changes; a snapshot without the cache: not read, nothing removed', () => {
    const podman = makePlan({ policy: POLICY, inventory: inventory([], [], { buildCache: null }), now: NOW });
    expect(formatPlanText(podman)).toContain(
      'Build cache: not applicable: the engine keeps no BuildKit build cache (Podman); nothing changes.',
    );
    const old = makePlan({ policy: POLICY, inventory: inventory([]), now: NOW });
    expect(formatPlanText(old)).toContain('Build cache: cannot be read (the inventory does not hold it)');
    expect(old.buildCache!.remove).toEqual([]);
  });
});

describe('explain names a build-cache record', () => {
  it('removed, and by which condition; kept, and why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'isw-cache-explain-'));
    try {
      const inv = join(dir, 'inventory.json');
      const file = join(dir, 'policy.yaml');
      await writeFile(file, 'version: 1\nbuildCache: { unusedFor: 1h }\n');
      await writeFile(
        inv,
        serializeInventory(
          inventory([], [], { buildCache: [record('aaa111bbb222ccc'), record('ddd444eee555fff', { shared: true })] }),
        ),
      );
      const explain = (id: string) =>
        runCli(['explain', id, '-p', file, '--inventory', inv, '--now', new Date(NOW).toISOString()]);
      const gone = await explain('aaa111bbb222');
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.stdout).toMatch(
        /^build-cache record aaa111bbb222ccc \(regular, 2\.0 MB, last used 2026-11-21T00:00:00\.000Z\)/,
      );
      expect(gone.stdout).toContain('verdict: REMOVED (buildCache.unusedFor)');
      const kept = await explain('ddd444eee555fff');
      expect(kept.stdout).toContain('verdict: KEPT (shared): shared with an image (keepShared)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
