/**
 * The last-used record against a real dockerd : kept across runs of imgsweep in --state-dir, fed by
 * containers and the engine's events, set aside when damaged, and used by `unusedFor` and `explain`.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan } from '../../src/plan/types.js';
import type { UsageRecord } from '../../src/usage/store.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped, startDockerd, type TestEngine } from '../support/dockerd.js';
import { importBusybox, loadImage, runContainer } from '../support/fixtures.js';

const IDLE_POLICY = `version: 1
name: idle
rules:
  - name: idle
    match: { repositories: ["isw/idle"] }
    unusedFor: 1h
`;

describe.skipIf(engineTestsSkipped())('the usage record against a real dockerd', () => {
  let t: TestEngine;
  let dir: string;
  let state: string;
  let policy: string;
  let key: string;
  const ids = {} as { idle: string; used: string; run: string; doomed: string };

  const live = (...args: string[]) => runCli([...args, '--host', t.host, '--state-dir', state]);
  const recordPath = () => join(state, `usage-${key}.json`);
  const readRecord = async () => JSON.parse(await readFile(recordPath(), 'utf8')) as UsageRecord;
  const plan = async (file = policy): Promise<{ plan: Plan; stderr: string }> => {
    const r = await live('plan', '-p', file, '--format', 'json');
    expect(r.code).toBe(0);
    return { plan: JSON.parse(r.stdout) as Plan, stderr: r.stderr };
  };
  const deletes = (p: Plan) => p.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);

  beforeAll(async () => {
    t = await startDockerd();
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-int-usage-'));
    state = join(dir, 'state');
    policy = join(dir, 'idle.yaml');
    await writeFile(policy, IDLE_POLICY);
    const { docker } = t;
    // Created in 2020, but new to this engine: only the record can say how long it has been unused.
    ids.idle = await loadImage(docker, { tags: ['isw/idle:1'], created: '2020-01-01T00:00:00Z' });
    ids.doomed = await loadImage(docker, { tags: ['isw/doomed:1'], created: '2020-01-01T00:00:00Z' });
    ids.used = await importBusybox(docker, 'isw/used:1');
    ids.run = await importBusybox(docker, 'isw/run:1');
    await runContainer(docker, 'isw/run:1', { running: true, name: 'isw-running' });
    const inv = await live('inventory', '--format', 'json');
    expect(inv.code).toBe(0);
    key = (JSON.parse(inv.stdout) as Inventory).engine.key;
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the first plan records every image as first seen and used now, in a 0600 file named by the engine', async () => {
    const before = Date.now();
    const { stderr } = await plan();
    expect(stderr).toBe('');
    const record = await readRecord();
    expect(record).toMatchObject({ kind: 'imgsweep-usage', version: 1, engine: key });
    expect(Object.keys(record.images).sort()).toEqual(Object.values(ids).sort());
    const idle = record.images[ids.idle]!;
    expect(idle.firstSeen).toBe(idle.lastUsed);
    expect(Date.parse(idle.firstSeen)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(idle.firstSeen)).toBeLessThanOrEqual(Date.now());
    expect((await stat(recordPath())).mode & 0o777).toBe(0o600);
    expect((await readdir(state)).filter((f) => f.startsWith('usage-'))).toEqual([`usage-${key}.json`]);
  });

  it('an image first seen now is not selected by unusedFor: 1h, although it was created in 2020', async () => {
    expect(deletes((await plan()).plan)).toEqual([]);
  });

  it('survives a restart of imgsweep: a later run keeps first-seen, folds in a `docker run --rm` and the running container, drops gone images', async () => {
    const first = await readRecord();
    const runStart = Date.now();
    const ran = await t.cli(['run', '--rm', '--network', 'none', 'isw/used:1', '/bin/busybox', 'true']);
    expect(ran).toMatchObject({ code: 0 });
    const runEnd = Date.now();
    expect((await t.cli(['rmi', 'isw/doomed:1'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 50));

    const secondRun = Date.now();
    await plan();
    const second = await readRecord();
    expect(Object.keys(second.images).sort()).toEqual([ids.idle, ids.used, ids.run].sort());
    for (const id of [ids.idle, ids.used, ids.run])
      expect(second.images[id]!.firstSeen, id).toBe(first.images[id]!.firstSeen);
    // The --rm container is gone; only the engine's events tell that isw/used:1 ran.
    const used = second.images[ids.used]!;
    expect(Date.parse(used.lastUsed)).toBeGreaterThanOrEqual(runStart - 1000);
    expect(Date.parse(used.lastUsed)).toBeLessThanOrEqual(runEnd + 1000);
    expect(used.source).toMatch(/event/);
    // A running container: used now (this run's time).
    expect(Date.parse(second.images[ids.run]!.lastUsed)).toBeGreaterThanOrEqual(secondRun);
    expect(second.images[ids.run]!.source).toMatch(/isw-running/);
    // Nothing used isw/idle.
    expect(second.images[ids.idle]).toEqual(first.images[ids.idle]);
    expect(Date.parse(second.eventsUntil!)).toBeGreaterThanOrEqual(secondRun);
  });

  it('a `docker run --rm` by short image ID between two runs counts too', async () => {
    const short = await importBusybox(t.docker, 'isw/short:1');
    try {
      await plan();
      const firstSeen = Date.parse((await readRecord()).images[short]!.firstSeen);
      await new Promise((r) => setTimeout(r, 1_100));
      const runStart = Date.now();
      const ran = await t.cli(['run', '--rm', '--network', 'none', short.slice(7, 19), '/bin/busybox', 'true']);
      expect(ran.code, ran.stderr).toBe(0);
      await plan();
      const entry = (await readRecord()).images[short]!;
      expect(Date.parse(entry.firstSeen)).toBe(firstSeen);
      expect(Date.parse(entry.lastUsed)).toBeGreaterThanOrEqual(runStart - 1000);
    } finally {
      await t.docker.getImage(short).remove();
    }
  });

  it('apply folds in what it sees too, even with nothing to do', async () => {
    const before = await readRecord();
    const r = await live('apply', '-p', policy, '--yes');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Nothing to do/);
    const after = await readRecord();
    expect(Date.parse(after.updatedAt)).toBeGreaterThan(Date.parse(before.updatedAt));
    expect(Date.parse(after.images[ids.run]!.lastUsed)).toBeGreaterThan(Date.parse(before.images[ids.run]!.lastUsed));
  });

  it('explain shows first-seen and last-used with their source', async () => {
    const record = await readRecord();
    const idle = await live('explain', 'isw/idle:1', '-p', policy);
    expect(idle).toMatchObject({ code: 0, stderr: '' });
    expect(idle.stdout).toContain(
      `first seen ${record.images[ids.idle]!.firstSeen}; last used ${record.images[ids.idle]!.lastUsed} (first seen)`,
    );
    const used = await live('explain', 'isw/used:1', '-p', policy);
    expect(used.stdout).toMatch(
      new RegExp(
        `first seen ${record.images[ids.used]!.firstSeen}; last used ${record.images[ids.used]!.lastUsed} \\(event \\w+ of container [0-9a-f]{12}\\)`,
      ),
    );
    const json = await live('explain', 'isw/used:1', '-p', policy, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      firstSeen: record.images[ids.used]!.firstSeen,
      lastUsed: record.images[ids.used]!.lastUsed,
    });
  });

  it('unusedFor uses the record: with last-used moved two hours back the image is selected, and explain says why', async () => {
    const record = await readRecord();
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
    record.images[ids.idle] = { ...record.images[ids.idle]!, lastUsed: twoHoursAgo, source: 'edited by the test' };
    await writeFile(recordPath(), JSON.stringify(record), { mode: 0o600 });
    const { plan: p, stderr } = await plan();
    expect(stderr).toBe('');
    expect(deletes(p)).toEqual([ids.idle]);
    expect(p.actions.find((a) => a.type === 'delete')?.rule).toBe('idle');
    expect((await readRecord()).images[ids.idle]!.lastUsed).toBe(twoHoursAgo);
    const explain = await live('explain', 'isw/idle:1', '-p', policy);
    expect(explain.stdout).toContain(`last used ${twoHoursAgo} (edited by the test)`);
    expect(explain.stdout).toMatch(/verdict: DELETED by rule idle/);
  });

  it('a damaged record is set aside with a warning on stderr, and rebuilt from what the engine shows', async () => {
    await writeFile(recordPath(), '{"kind":"imgsweep-usage","version":1,"engine":', { mode: 0o600 });
    const before = Date.now();
    const { plan: p, stderr } = await plan();
    expect(stderr).toMatch(/^imgsweep: warning: the usage record .* was set aside as .*damaged.*: not JSON/m);
    expect(stderr).toContain(recordPath());
    // Rebuilt: everything counts as first seen now again, so the idle image is no longer selected.
    expect(deletes(p)).toEqual([]);
    const rebuilt = await readRecord();
    expect(Object.keys(rebuilt.images).sort()).toEqual([ids.idle, ids.used, ids.run].sort());
    expect(Date.parse(rebuilt.images[ids.idle]!.firstSeen)).toBeGreaterThanOrEqual(before - 1000);
    const files = await readdir(state);
    const aside = files.filter((f) => f.startsWith(`usage-${key}.json.`));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(state, aside[0]!), 'utf8')).toBe('{"kind":"imgsweep-usage","version":1,"engine":');
    // The next run trusts the rebuilt record silently.
    expect((await plan()).stderr).toBe('');
  });

  it('a record of a foreign version is set aside too', async () => {
    const record = await readRecord();
    await writeFile(recordPath(), JSON.stringify({ ...record, version: 2 }), { mode: 0o600 });
    const { stderr } = await plan();
    expect(stderr).toMatch(/warning: the usage record .* set aside .*version 2/);
    expect((await readRecord()).version).toBe(1);
  });

  it('keeps one record per engine: another daemon on this host gets its own file', async () => {
    const other = await startDockerd();
    try {
      const before = await readFile(recordPath(), 'utf8');
      const r = await runCli(['plan', '-p', policy, '--host', other.host, '--state-dir', state, '--format', 'json']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const records = (await readdir(state)).filter((f) => /^usage-[0-9a-f]+\.json$/.test(f));
      expect(records).toHaveLength(2);
      expect(await readFile(recordPath(), 'utf8')).toBe(before);
    } finally {
      await other.stop();
    }
  });
});
