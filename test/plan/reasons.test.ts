import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerRecord, ImageRecord } from '../../src/inventory/types.js';
import { evaluatePolicy, makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { ago, container, idOf, image, inventory, layered, NOW, policy } from '../support/builders.js';

const ALL =
  'rules:\n  - name: all\n    match: { repositories: ["**"] }\n  - name: bare\n    match: { untagged: true }\n';
const plan = (yaml: string, images: ImageRecord[], containers: ContainerRecord[] = []): Plan =>
  makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: inventory(layered(images), containers), now: NOW });
const keptOf = (p: Plan, name: string) => {
  const { imageId: _id, refs: _refs, ...why } = p.kept.find((k) => k.imageId === idOf(name))!;
  return why;
};
const cid = (name: string) => idOf(`container:${name}`).slice(7);

describe('kept images carry a reason code and its facts', () => {
  it('containers: which container, in which state, and what the policy says about stopped ones', () => {
    const images = [
      image('run', { tags: ['run:1'] }),
      image('stop', { tags: ['stop:1'] }),
      image('recent', { tags: ['recent:1'] }),
    ];
    const containers = [
      container('web', 'run', 'paused'),
      container('job', 'stop', 'exited'),
      container('new', 'recent', 'exited', { finished: '10m' }),
    ];
    const protect = plan(ALL, images, containers);
    expect(keptOf(protect, 'run')).toEqual({
      reason: 'in-use',
      container: { id: cid('web'), name: 'web', state: 'paused' },
    });
    expect(keptOf(protect, 'stop')).toEqual({
      reason: 'in-use-stopped',
      container: { id: cid('job'), name: 'job', state: 'exited' },
      stoppedForMs: null,
      stoppedFor: null,
    });
    const remove = plan(`containers: { stopped: remove, stoppedFor: 1h }\n${ALL}`, images, containers);
    expect(keptOf(remove, 'recent')).toEqual({
      reason: 'in-use-stopped',
      container: { id: cid('new'), name: 'new', state: 'exited' },
      stoppedForMs: 3_600_000,
      stoppedFor: '1h',
    });
  });

  it('protection: the protect key and the pattern that matched', () => {
    const images = [
      image('l', { tags: ['l:1'], labels: { tier: 'prod' } }),
      image('i', { tags: ['i:1'] }),
      image('y', { tags: ['y:1'], age: '10m' }),
      image('t', { tags: ['t:1', 't:v1.2.3'] }),
      image('r', { tags: ['registry.acme.io/base/py:3'] }),
      image('f', { tags: ['nginx:1.27'] }),
    ];
    const prefix = idOf('i').slice(7, 20);
    const p = plan(
      `protect:\n  labels: ["tier=prod"]\n  images: ["sha256:${prefix}"]\n  youngerThan: 1h\n  tags: ["v*.*.*"]\n  repositories: ["registry.acme.io/base/**"]\n  references: ["nginx:1.*"]\n${ALL}`,
      images,
    );
    expect(keptOf(p, 'l')).toEqual({ reason: 'protected-label', protection: { kind: 'labels', pattern: 'tier=prod' } });
    expect(keptOf(p, 'i')).toEqual({ reason: 'protected-id', protection: { kind: 'images', pattern: prefix } });
    expect(keptOf(p, 'y')).toEqual({
      reason: 'protected-age',
      protection: { kind: 'youngerThan', youngerThanMs: 3_600_000, youngerThan: '1h', since: 'created' },
    });
    expect(keptOf(p, 't')).toEqual({
      reason: 'protected-reference',
      ref: 't:v1.2.3',
      protection: { kind: 'tags', pattern: 'v*.*.*' },
    });
    expect(keptOf(p, 'r')).toEqual({
      reason: 'protected-reference',
      ref: 'registry.acme.io/base/py:3',
      protection: { kind: 'repositories', pattern: 'registry.acme.io/base/**' },
    });
    expect(keptOf(p, 'f')).toEqual({
      reason: 'protected-reference',
      ref: 'nginx:1.27',
      protection: { kind: 'references', pattern: 'nginx:1.*' },
    });
  });

  it('chains, rules and references: the child, the rule, the reference that stays', () => {
    const images = [
      image('p', { tags: ['p:1'] }),
      image('c', { tags: ['c:keep'], parent: 'p' }),
      image('two', { tags: ['two:1', 'two:2'] }),
      image('u', { tags: ['u:x'] }),
    ];
    const p = plan(
      'protect: { tags: [keep] }\nrules:\n  - name: ones\n    match: { tags: ["1"] }\n  - name: un\n    action: untag\n    match: { repositories: [u] }\n',
      images,
    );
    expect(keptOf(p, 'p')).toEqual({ reason: 'parent-of-kept', child: idOf('c') });
    expect(keptOf(p, 'two')).toEqual({ reason: 'partially-selected', ref: 'two:2', refReason: 'not-selected' });
    expect(keptOf(p, 'u')).toEqual({ reason: 'untag-only', rule: 'un', ref: 'u:x' });
    const newest = plan('rules:\n  - name: k\n    match: { repositories: [a] }\n    keep: { newest: 1 }\n', [
      image('a1', { tags: ['a:1'], age: '2d' }),
      image('a2', { tags: ['a:2'], age: '1d' }),
    ]);
    expect(keptOf(newest, 'a2')).toEqual({ reason: 'keep-newest', rule: 'k' });
    expect(keptOf(plan('', [image('n', { tags: ['n:1'] })]), 'n')).toEqual({ reason: 'not-selected' });
  });

  it("each reference's fate: why it stays, as a code", () => {
    const ev = evaluatePolicy({
      policy: policy(`version: 1\nprotect: { tags: [latest] }\nrules:\n  - name: ones\n    match: { tags: ["1"] }\n`),
      inventory: inventory(
        layered([image('a', { tags: ['a:1', 'a:2', 'a:latest'], digests: [`a@sha256:${'d'.repeat(64)}`] })]),
      ),
      now: NOW,
    });
    const fates = Object.fromEntries(ev.decisions.get(idOf('a'))!.fates);
    expect(fates).toEqual({
      'a:1': { fate: 'untag', rule: 'ones' },
      'a:2': { fate: 'keep', why: { reason: 'not-selected' } },
      'a:latest': {
        fate: 'keep',
        why: { reason: 'protected-reference', ref: 'a:latest', protection: { kind: 'tags', pattern: 'latest' } },
      },
      [`a@sha256:${'d'.repeat(64)}`]: { fate: 'keep', why: { reason: 'follows-tag' } },
    });
  });
});

describe('decisions test codes, never words', () => {
  it('a reference protected by pattern keeps its image out of the disk section, by the code alone', () => {
    const images = [
      image('old', { tags: ['app:1', 'app:stable'], created: ago('40d') }),
      image('new', { tags: ['other:1'], created: ago('1d') }),
    ];
    const budget = 'disk: { maxImageBytes: 1B, targetImageBytes: 0B }\n';
    for (const [kind, entry] of [
      ['tags', 'tags: [stable]'],
      ['repositories', 'repositories: [app]'],
      ['references', 'references: ["app:st*"]'],
    ] as const) {
      const p = plan(`protect: { ${entry} }\n${budget}`, images);
      // The budget cannot be met: everything else goes, the protected image stays, and the plan says why in codes.
      expect(
        p.actions.filter((a) => a.imageId === idOf('old')),
        kind,
      ).toEqual([]);
      expect(keptOf(p, 'old'), kind).toMatchObject({ reason: 'protected-reference', protection: { kind } });
      expect(
        p.actions.find((a) => a.imageId === idOf('new')),
        kind,
      ).toMatchObject({ type: 'delete', rule: 'disk' });
      expect(p.disk, kind).toMatchObject({ status: 'over-limit', evicted: 1, targetReached: false });
    }
  });

  it('plan/ and execute/ import nothing from report/, and plan/ nothing that does I/O', () => {
    const root = resolve(import.meta.dirname, '../../src');
    const io = /^node:(fs|fs\/promises|net|child_process|http|https|os)$|^dockerode$/;
    const importsOf = (file: string) =>
      [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);
    // Everything reachable from a folder's modules, by relative import.
    const reach = (start: string[]) => {
      const seen = new Set<string>();
      const external = new Set<string>();
      const walk = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const spec of importsOf(file)) {
          if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
          else external.add(spec);
        }
      };
      start.forEach(walk);
      return { files: [...seen].map((f) => relative(root, f)), external: [...external] };
    };
    const filesOf = (folder: string) =>
      readdirSync(join(root, folder))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(root, folder, f));
    const plan = reach(filesOf('plan'));
    expect(plan.files).toContain('inventory/reference.ts'); // the walk follows imports out of the folder
    expect(plan.files.filter((f) => f.startsWith('report/') || f.startsWith('execute/'))).toEqual([]);
    expect(plan.external.filter((x) => io.test(x))).toEqual([]);
    const execute = reach(filesOf('execute'));
    expect(execute.files.filter((f) => f.startsWith('report/'))).toEqual([]);
  });
});
