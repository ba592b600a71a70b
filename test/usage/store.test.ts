/** The usage record on disk: per engine, atomic, mode 0600; a damaged or foreign file is set aside, never trusted. */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/execute/lock.js';
import { checkStateDir } from '../../src/state-dir.js';
import { emptyUsage, loadUsage, saveUsage, usagePath, type UsageRecord } from '../../src/usage/store.js';
import { ago, idOf, NOW } from '../support/builders.js';

const KEY = '0123456789abcdef';

function record(images: UsageRecord['images'] = {}): UsageRecord {
  return {
    kind: 'imgsweep-usage',
    version: 1,
    engine: KEY,
    updatedAt: new Date(NOW).toISOString(),
    eventsUntil: ago('1m'),
    images,
  };
}

describe('usage record store', () => {
  let dir: string;
  let warnings: string[];
  const warn = (m: string) => warnings.push(m);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-usage-'));
    warnings = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps one file per engine in the state dir', () => {
    expect(usagePath(dir, KEY)).toBe(join(dir, `usage-${KEY}.json`));
    expect(usagePath(dir, 'fedcba9876543210')).not.toBe(usagePath(dir, KEY));
  });

  it('starts empty when there is no record yet, silently', async () => {
    expect(await loadUsage(dir, KEY, warn, NOW)).toEqual(emptyUsage(KEY));
    expect(emptyUsage(KEY)).toMatchObject({
      kind: 'imgsweep-usage',
      version: 1,
      engine: KEY,
      eventsUntil: null,
      images: {},
    });
    expect(warnings).toEqual([]);
  });

  it('round-trips a record, with images sorted by ID', async () => {
    const images = {
      [idOf('z')]: { firstSeen: ago('3d'), lastUsed: ago('1d'), source: 'container job (exited)' },
      [idOf('a')]: { firstSeen: ago('2d'), lastUsed: ago('2d'), source: 'first seen' },
      [idOf('m')]: { firstSeen: ago('9d'), lastUsed: ago('1h') },
    };
    await saveUsage(dir, record(images));
    const loaded = await loadUsage(dir, KEY, warn, NOW);
    expect(loaded).toEqual(record(images));
    expect(Object.keys(loaded.images)).toEqual(Object.keys(images).sort());
    expect(warnings).toEqual([]);
  });

  it('writes the file with mode 0600 (and keeps 0600 when it rewrites a file someone opened up)', async () => {
    await saveUsage(dir, record());
    expect((await stat(usagePath(dir, KEY))).mode & 0o777).toBe(0o600);
    await chmod(usagePath(dir, KEY), 0o644);
    await saveUsage(dir, record({ [idOf('a')]: { firstSeen: ago('1d'), lastUsed: ago('1h') } }));
    expect((await stat(usagePath(dir, KEY))).mode & 0o777).toBe(0o600);
  });

  it('creates a missing state dir, private to its owner', async () => {
    const nested = join(dir, 'a', 'state');
    await saveUsage(nested, record());
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    expect((await loadUsage(nested, KEY, warn, NOW)).eventsUntil).toBe(ago('1m'));
  });

  it('writes atomically: a save replaces the whole file by rename and leaves no temp file behind', async () => {
    for (let i = 0; i < 5; i++) {
      await saveUsage(dir, record({ [idOf(`i${i}`)]: { firstSeen: ago('1d'), lastUsed: ago(`${i + 1}m`) } }));
      expect(await readdir(dir)).toEqual([`usage-${KEY}.json`]);
    }
    const text = await readFile(usagePath(dir, KEY), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(Object.keys((JSON.parse(text) as UsageRecord).images)).toEqual([idOf('i4')]);
  });

  it('stays atomic when saves overlap in one process (watch flushes on a timer and on SIGTERM)', async () => {
    const saves = Array.from({ length: 20 }, (_, i) =>
      saveUsage(dir, record({ [idOf(`i${i}`)]: { firstSeen: ago('1d'), lastUsed: ago(`${i + 1}m`) } })),
    );
    // Read while the saves race: every read sees either no file or a whole valid record.
    const reads = Array.from({ length: 20 }, () => loadUsage(dir, KEY, warn, NOW));
    const results = await Promise.allSettled([...saves, ...reads]);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await readdir(dir)).toEqual([`usage-${KEY}.json`]);
    expect(warnings).toEqual([]);
    const text = await readFile(usagePath(dir, KEY), 'utf8');
    expect(Object.keys((JSON.parse(text) as UsageRecord).images)).toHaveLength(1);
  });

  describe('a record it cannot trust is set aside with a warning and a fresh one starts', () => {
    const cases: [string, (valid: UsageRecord) => string, RegExp][] = [
      ['corrupt JSON (a torn write)', (v) => JSON.stringify(v).slice(0, 40), /not JSON/],
      ['an empty file', () => '', /not JSON/],
      ['JSON that is not a record', () => '[1,2,3]', /not a usage record/],
      ['another kind of file', (v) => JSON.stringify({ ...v, kind: 'imgsweep-plan' }), /not a usage record/],
      ['a version this imgsweep does not read', (v) => JSON.stringify({ ...v, version: 2 }), /version 2/],
      [
        "another engine's record",
        (v) => JSON.stringify({ ...v, engine: 'fedcba9876543210' }),
        /engine fedcba9876543210/,
      ],
      [
        'an entry with a bad time',
        (v) => JSON.stringify({ ...v, images: { [idOf('a')]: { firstSeen: 'yesterday', lastUsed: ago('1h') } } }),
        /bad entry/,
      ],
      [
        'an entry with a bad image ID',
        (v) => JSON.stringify({ ...v, images: { 'sha256:abc': { firstSeen: ago('1d'), lastUsed: ago('1h') } } }),
        /a key that is not an image ID/,
      ],
      ['no images map', (v) => JSON.stringify({ ...v, images: null }), /no images map/],
    ];

    it.each(cases)('%s', async (_name, damage, why) => {
      const path = usagePath(dir, KEY);
      const text = damage(record({ [idOf('a')]: { firstSeen: ago('2d'), lastUsed: ago('1d') } }));
      await writeFile(path, text, { mode: 0o600 });

      const loaded = await loadUsage(dir, KEY, warn, NOW);
      expect(loaded).toEqual(emptyUsage(KEY));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(path);
      expect(warnings[0]).toMatch(why);
      expect(warnings[0]).toMatch(/set aside/);

      // Renamed aside with its content intact, named in the warning; the record's own path is free again.
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      const aside = join(dir, files[0]!);
      expect(aside).not.toBe(path);
      expect(files[0]!.startsWith(`usage-${KEY}.json.`)).toBe(true);
      expect(warnings[0]).toContain(aside);
      expect(await readFile(aside, 'utf8')).toBe(text);

      // Rebuilt: the next save writes a good record that loads without a warning.
      await saveUsage(dir, record({ [idOf('b')]: { firstSeen: ago('1m'), lastUsed: ago('1m') } }));
      warnings = [];
      expect(Object.keys((await loadUsage(dir, KEY, warn, NOW)).images)).toEqual([idOf('b')]);
      expect(warnings).toEqual([]);
    });

    it('two damaged files set aside at different times do not overwrite each other', async () => {
      const path = usagePath(dir, KEY);
      await writeFile(path, 'first {');
      await loadUsage(dir, KEY, warn, NOW);
      await writeFile(path, 'second {');
      await loadUsage(dir, KEY, warn, NOW + 1000);
      const asides = (await readdir(dir)).sort();
      expect(asides).toHaveLength(2);
      expect((await Promise.all(asides.map((f) => readFile(join(dir, f), 'utf8')))).sort()).toEqual([
        'first {',
        'second {',
      ]);
      expect(warnings).toHaveLength(2);
    });
  });

  describe('a state folder or record another user could have written is refused, never read', () => {
    it('a folder every user may write to (mode 1777): the record and the lock are refused', async () => {
      await saveUsage(dir, record({ [idOf('a')]: { firstSeen: ago('2d'), lastUsed: ago('1d') } }));
      await chmod(dir, 0o1777);
      await expect(loadUsage(dir, KEY, warn, NOW)).rejects.toThrow(/is writable by every user \(mode 1777\)/);
      await expect(acquireLock(dir, KEY, 'test')).rejects.toThrow(/is writable by every user/);
    });

    it('a folder of another user is refused; as root, so is one its group may write to', async () => {
      const uid = process.getuid!();
      await expect(checkStateDir(dir, uid + 1)).rejects.toThrow(`belongs to uid ${uid}, not to this user`);
      await chmod(dir, 0o770);
      if (uid === 0) await expect(checkStateDir(dir, 0)).rejects.toThrow(/writable by its group \(mode 770\)/);
      else await expect(checkStateDir(dir, uid)).resolves.toBeUndefined();
    });

    it('a record that is a symbolic link is refused, and nothing of what it points at is shown', async () => {
      const secret = join(dir, 'secret');
      await writeFile(secret, 'root:$6$very-secret-hash:19000:0:99999:7:::\n');
      await symlink(secret, usagePath(dir, KEY));
      const error = await loadUsage(dir, KEY, warn, NOW).then(
        () => '',
        (e: unknown) => (e as Error).message,
      );
      expect(error).toMatch(/cannot use the usage record .*: it is a symbolic link/);
      expect(error + warnings.join('')).not.toContain('very-secret');
    });

    it('a record that is not JSON is set aside with a warning that quotes none of it', async () => {
      await writeFile(usagePath(dir, KEY), 'root:$6$very-secret-hash:19000\n', { mode: 0o600 });
      expect(await loadUsage(dir, KEY, warn, NOW)).toEqual(emptyUsage(KEY));
      expect(warnings.join('')).toContain('not JSON');
      expect(warnings.join('')).not.toContain('very-secret');
    });
  });

  it('a record it cannot read at all (a directory in its place) gives a warning and a fresh record for this run', async () => {
    await mkdir(usagePath(dir, KEY));
    expect(await loadUsage(dir, KEY, warn, NOW)).toEqual(emptyUsage(KEY));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(usagePath(dir, KEY));
  });
});
