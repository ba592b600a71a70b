import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  parseInventory,
  readInventoryFile,
  serializeInventory,
  writeInventoryFile,
} from '../../src/inventory/snapshot.js';
import type { Inventory } from '../../src/inventory/types.js';

const EXAMPLE_PATH = fileURLToPath(new URL('../../examples/inventory.json', import.meta.url));
const SCRIPT_PATH = fileURLToPath(new URL('../../scripts/make-example-inventory.mjs', import.meta.url));
const exampleText = readFileSync(EXAMPLE_PATH, 'utf8');
const example = parseInventory(exampleText, 'examples/inventory.json');
const copy = (): Inventory => structuredClone(example);
const hex64 = (c: string): string => `sha256:${c.repeat(64)}`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgsweep-snapshot-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('example inventory', () => {
  it('is what the generator makes', () => {
    expect(execFileSync(process.execPath, [SCRIPT_PATH, '--stdout'], { encoding: 'utf8' })).toBe(exampleText);
  });

  it('is already canonical and survives a round trip', () => {
    expect(serializeInventory(example)).toBe(exampleText);
    expect(parseInventory(serializeInventory(example), 'again.json')).toEqual(example);
  });

  it('serializes byte-identically whatever the input order', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(serializeInventory(shuffled(example, seed))).toBe(exampleText);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps the variety the plan tests and the demo rely on', () => {
    const { images, containers, usage } = example;
    const capturedAt = Date.parse(example.capturedAt);
    const repos = (tags: string[]): Set<string> => new Set(tags.map((t) => t.slice(0, t.lastIndexOf(':'))));
    const isParent = new Set(images.map((i) => i.parentId));
    const byId = new Map(images.map((i) => [i.id, i]));
    const count = (pred: (i: (typeof images)[number]) => boolean): number => images.filter(pred).length;

    expect(images.length).toBeGreaterThanOrEqual(55);
    expect(count((i) => i.repoTags.length >= 2)).toBeGreaterThanOrEqual(6);
    expect(count((i) => i.repoTags.length >= 3)).toBeGreaterThanOrEqual(2);
    expect(count((i) => repos(i.repoTags).size >= 2)).toBeGreaterThanOrEqual(2);
    expect(count((i) => i.repoTags.length === 0 && i.repoDigests.length > 0)).toBeGreaterThanOrEqual(4);
    expect(count((i) => i.repoTags.length + i.repoDigests.length === 0 && !isParent.has(i.id))).toBeGreaterThanOrEqual(
      5,
    );
    expect(count((i) => i.repoTags.some((t) => t.endsWith('-pinned')))).toBe(1);
    expect(count((i) => i.repoTags.includes('alpine:3.20') && i.repoTags.includes('alpine:latest'))).toBe(1);
    for (const repo of ['registry.acme.io/ci/app', 'registry.acme.io/ci/worker']) {
      for (const tag of [':pr-', ':sha-', ':main', ':latest'])
        expect(count((i) => i.repoTags.some((t) => t.startsWith(repo + tag)))).toBeGreaterThan(0);
    }

    // Legacy chains: intermediates, tagged children, a branch; size includes the parent's.
    const children = images.filter((i) => i.parentId !== null);
    expect(children.length).toBeGreaterThanOrEqual(7);
    expect(children.filter((i) => i.repoTags.length > 0).length).toBeGreaterThanOrEqual(3);
    expect(images.some((p) => children.filter((c) => c.parentId === p.id).length >= 2)).toBe(true);
    for (const c of children) expect(c.size).toBeGreaterThanOrEqual(byId.get(c.parentId!)!.size);

    expect(count((i) => i.labels['com.acme.keep'] === 'true')).toBeGreaterThanOrEqual(2);
    expect(count((i) => i.labels.tier === 'prod')).toBeGreaterThanOrEqual(1);
    expect(count((i) => 'org.opencontainers.image.source' in i.labels)).toBeGreaterThanOrEqual(10);
    for (const i of images) {
      expect(i.size).toBeGreaterThanOrEqual(5e6);
      expect(i.size).toBeLessThanOrEqual(1.2e9);
      expect(i.size).toBe(i.layers!.reduce((sum, l) => sum + l.size, 0));
      const age = capturedAt - Date.parse(i.created);
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThanOrEqual(60 * 86400e3);
    }

    const states = (s: string): number => containers.filter((c) => c.state === s).length;
    expect(states('running')).toBeGreaterThanOrEqual(3);
    expect(states('paused')).toBe(1);
    expect(states('exited')).toBeGreaterThanOrEqual(3);
    expect(containers.filter((c) => c.state === 'created' && c.startedAt === null).length).toBe(1);
    // Someone typed app:main, which has moved on since: use is decided by imageId.
    expect(containers.some((c) => !byId.get(c.imageId)!.repoTags.includes(c.image) && c.image.includes(':main'))).toBe(
      true,
    );

    const withUsage = count((i) => usage[i.id] !== undefined);
    expect(withUsage).toBeGreaterThanOrEqual(images.length * 0.9);
    expect(withUsage).toBeLessThan(images.length);
    for (const [id, u] of Object.entries(usage)) {
      expect(Date.parse(u.firstSeen)).toBeGreaterThanOrEqual(Date.parse(byId.get(id)!.created));
      expect(Date.parse(u.lastUsed)).toBeGreaterThanOrEqual(Date.parse(u.firstSeen));
      expect(Date.parse(u.lastUsed)).toBeLessThanOrEqual(capturedAt);
    }

    expect(example.capturedAt).toBe('2026-11-27T11:00:00Z');
    expect(example.engine).toMatchObject({
      version: '20.10.24',
      apiVersion: '1.41',
      imageStore: 'classic',
      driver: 'overlay2',
    });
    const ratio = example.disk!.usedBytes / example.disk!.totalBytes;
    expect(ratio).toBeGreaterThan(0.86);
    expect(ratio).toBeLessThan(0.9);
  });
});

describe('parseInventory accepts', () => {
  it.each<[string, (inv: Inventory) => void]>([
    ['no disk', (inv) => delete inv.disk],
    ['a null disk', (inv) => (inv.disk = null)],
    ['images without layers', (inv) => inv.images.forEach((i) => delete i.layers)],
    [
      "images without layers, and why: the engine's disk accounting was unavailable",
      (inv) => {
        inv.images.forEach((i) => delete i.layers);
        inv.accountingUnavailable = '/system/df: a disk usage operation is already running, after 5 tries in 60 s';
      },
    ],
    ['a parent that is not listed', (inv) => (inv.images[0]!.parentId = hex64('a'))],
    [
      'usage of an image that is gone',
      (inv) => (inv.usage[hex64('b')] = { firstSeen: inv.capturedAt, lastUsed: inv.capturedAt }),
    ],
    [
      'a label named __proto__',
      (inv) => Object.defineProperty(inv.images[0]!.labels, '__proto__', { value: 'x', enumerable: true }),
    ],
  ])('%s', (_name, mutate) => {
    const inv = copy();
    mutate(inv);
    const text = serializeInventory(inv);
    expect(parseInventory(text, 'ok.json')).toEqual(JSON.parse(text));
    expect(parseInventory(text, 'ok.json')).toEqual(inv);
    expect(serializeInventory(parseInventory(text, 'ok.json'))).toBe(text);
  });

  it('a byte order mark', () => {
    expect(parseInventory(`\ufeff${exampleText}`, 'bom.json')).toEqual(example);
  });
});

type Broken = [name: string, input: string | ((inv: Inventory) => void), expected: string[]];
const broken: Broken[] = [
  [
    'not JSON',
    '{\n  "kind": "imgsweep-inventory",\n  "version": 1,\n}\n',
    ['broken.json:4:1', 'not valid JSON', '"}"'],
  ],
  ['cut short', exampleText.slice(0, 5000), ['not valid JSON', 'unexpected end of file']],
  ['not an object', '[]', ['broken.json: (root): must be object (got [])']],
  [
    'wrong kind',
    (inv) => ((inv as { kind: string }).kind = 'imgsweep-plan'),
    ['broken.json: kind: must be "imgsweep-inventory" (got "imgsweep-plan")'],
  ],
  ['newer version', (inv) => ((inv as { version: number }).version = 2), ['broken.json: version: must be 1 (got 2)']],
  [
    'bad image ID',
    (inv) => (inv.images[3]!.id = 'sha256:abc'),
    ['broken.json: images[3].id: must match ^sha256:[0-9a-f]{64}$ (got "sha256:abc")'],
  ],
  [
    'bad date',
    (inv) => (inv.images[0]!.created = '2026-11-27 11:00'),
    ['broken.json: images[0].created: must be an RFC 3339 date-time'],
  ],
  [
    'bad started time',
    (inv) => (inv.containers[2]!.startedAt = 'yesterday'),
    ['containers[2].startedAt: must be an RFC 3339 date-time', '"yesterday"'],
  ],
  [
    'unknown key',
    (inv) => Object.assign(inv.containers[1]!, { Ports: [] }),
    ['broken.json: containers[1].Ports: unknown key'],
  ],
  [
    'missing key',
    (inv) => delete (inv.engine as Partial<Inventory['engine']>).host,
    ['broken.json: engine.host: required key is missing'],
  ],
  [
    'bad state',
    (inv) => ((inv.containers[0] as { state: string }).state = 'stopped'),
    ['containers[0].state: must be one of', '"stopped"'],
  ],
  [
    'disk not an object',
    (inv) => Object.assign(inv, { disk: 'full' }),
    ['broken.json: disk: must be object or null (got "full")'],
  ],
  ['negative size', (inv) => (inv.images[1]!.size = -1), ['images[1].size: must be >= 0']],
  [
    'label not a string',
    (inv) => Object.assign(inv.images[0]!.labels, { 'com.acme.keep': true }),
    ['images[0].labels["com.acme.keep"]: must be string'],
  ],
  [
    'bad usage key',
    (inv) => (inv.usage['sha256:xyz'] = { firstSeen: inv.capturedAt, lastUsed: inv.capturedAt }),
    ['broken.json: usage["sha256:xyz"]: key must match'],
  ],
  [
    'duplicate image ID',
    (inv) => (inv.images[5]!.id = inv.images[2]!.id),
    ['broken.json: images[5].id: duplicate of images[2].id'],
  ],
  [
    'duplicate container ID',
    (inv) => (inv.containers[4]!.id = inv.containers[1]!.id),
    ['containers[4].id: duplicate of containers[1].id'],
  ],
  [
    'parent loop',
    (inv) => ((inv.images[0]!.parentId = inv.images[1]!.id), (inv.images[1]!.parentId = inv.images[0]!.id)),
    ['parentId: parent chain loops back'],
  ],
];

describe('readInventoryFile accepts', () => {
  it('a container whose image is gone (Docker leaves such containers after a forced delete)', async () => {
    const inv = copy();
    inv.containers[0]!.imageId = hex64('e');
    const path = join(dir, 'orphan.json');
    await writeFile(path, JSON.stringify(inv));
    await expect(readInventoryFile(path)).resolves.toMatchObject({ containers: expect.any(Array) });
  });
});

describe('readInventoryFile rejects', () => {
  it.each(broken)('%s', async (_name, input, expected) => {
    let text: string;
    if (typeof input === 'string') text = input;
    else {
      const inv = copy();
      input(inv);
      text = JSON.stringify(inv, null, 2); // not serializeInventory: it would reorder what the test points at
    }
    const path = join(dir, 'broken.json');
    await writeFile(path, text);
    const error = await readInventoryFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    for (const part of expected) expect((error as Error).message).toContain(part);
    expect((error as Error).message.split('\n').every((line) => line.startsWith(`${path}`))).toBe(true);
  });

  it('a missing file, saying so', async () => {
    const path = join(dir, 'missing.json');
    await expect(readInventoryFile(path)).rejects.toThrow(
      new InputError(`${path}: no such file (save one with: imgsweep inventory -o ${path})`),
    );
  });

  it('a directory', async () => {
    await mkdir(join(dir, 'a-dir.json'));
    await expect(readInventoryFile(join(dir, 'a-dir.json'))).rejects.toThrow(/a-dir\.json: not a regular file/);
  });

  it('a file over 512 MiB, without reading it', async () => {
    const path = join(dir, 'huge.json');
    const file = await open(path, 'w');
    await file.truncate(512 * 1024 * 1024 + 1); // sparse: costs no disk
    await file.close();
    await expect(readInventoryFile(path)).rejects.toThrow(
      /huge\.json: too large for an inventory snapshot \(536870913 bytes\)/,
    );
  });

  it('reports at most 20 problems', () => {
    const inv = copy();
    inv.images.forEach((i) => (i.created = 'soon'));
    const lines = (() => {
      try {
        parseInventory(JSON.stringify(inv), 'many.json');
      } catch (e) {
        return (e as Error).message.split('\n');
      }
      return [];
    })();
    expect(lines).toHaveLength(21);
    expect(lines[20]).toBe(`many.json: ... and ${inv.images.length - 20} more problems`);
  });
});

describe('writeInventoryFile', () => {
  it('writes the canonical form, replacing the file whole and leaving no temp file behind', async () => {
    const sub = await mkdtemp(join(dir, 'write-'));
    const path = join(sub, 'inventory.json');
    await writeFile(path, 'old');
    await writeInventoryFile(path, shuffled(example, 7));
    expect(await readFile(path, 'utf8')).toBe(exampleText);
    expect(await readdir(sub)).toEqual(['inventory.json']);
    expect(await readInventoryFile(path)).toEqual(example);
  });

  it('fails cleanly when the directory does not exist', async () => {
    await expect(writeInventoryFile(join(dir, 'nope', 'inventory.json'), example)).rejects.toThrow(/ENOENT/);
  });
});

/** The same inventory with every list and key order scrambled. */
function shuffled(inv: Inventory, seed: number): Inventory {
  let state = seed >>> 0 || 1;
  const next = (): number => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const shuffle = <T>(list: T[]): T[] => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  const keys = <T extends object>(obj: T): T => Object.fromEntries(shuffle(Object.entries(obj))) as T;
  return keys({
    ...inv,
    engine: keys(inv.engine),
    images: shuffle(inv.images).map((i) =>
      keys({ ...i, repoTags: shuffle(i.repoTags), repoDigests: shuffle(i.repoDigests), labels: keys(i.labels) }),
    ),
    containers: shuffle(inv.containers).map((c) => keys({ ...c, mountImageIds: shuffle(c.mountImageIds) })),
    usage: Object.fromEntries(shuffle(Object.entries(inv.usage)).map(([id, u]) => [id, keys(u)])),
  });
}
