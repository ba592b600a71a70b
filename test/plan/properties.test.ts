import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../../src/inventory/reference.js';
import type { ContainerRecord, ImageRecord, Inventory } from '../../src/inventory/types.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { ago, idOf, inventory, layered, NOW, policy } from '../support/builders.js';

const REPOS = ['nginx', 'docker.io/library/nginx', 'app', 'ci/app', 'registry.acme.io/ci/app', 'localhost/app'];
const TAGS = ['latest', '1', '2', 'pr-1', 'pr-2', 'sha-1', 'v1.0.0', 'keep'];
const AGES = ['10m', '2h', '1d', '3d', '20d'];
const STATES = ['running', 'paused', 'restarting', 'exited', 'created', 'dead'] as const;

const arbInventory: fc.Arbitrary<Inventory> = fc
  .record({
    images: fc.array(
      fc.record({
        tags: fc.uniqueArray(
          fc.tuple(fc.constantFrom(...REPOS), fc.constantFrom(...TAGS)).map(([r, t]) => `${r}:${t}`),
          { maxLength: 3 },
        ),
        digests: fc.uniqueArray(
          fc.tuple(fc.constantFrom(...REPOS), fc.constantFrom('a', 'b')).map(([r, d]) => `${r}@sha256:${d.repeat(64)}`),
          { maxLength: 2 },
        ),
        age: fc.constantFrom(...AGES),
        parent: fc.option(fc.nat(), { nil: undefined }),
        label: fc.constantFrom(null, 'keep', 'team'),
        size: fc.integer({ min: 1, max: 1000 }),
      }),
      { minLength: 1, maxLength: 14 },
    ),
    containers: fc.array(
      fc.record({ image: fc.nat(), state: fc.constantFrom(...STATES), finished: fc.constantFrom(...AGES) }),
      { maxLength: 6 },
    ),
  })
  .map(({ images, containers }) => {
    // A tag names one image at a time: keep only the first image holding each tag.
    const taken = new Set<string>();
    const records: ImageRecord[] = images.map((spec, i) => {
      const tags = spec.tags.filter(
        (t) =>
          !taken.has(parseReference(t).normalized + ':' + parseReference(t).tag) &&
          taken.add(parseReference(t).normalized + ':' + parseReference(t).tag),
      );
      return {
        id: idOf(`img${i}`),
        // Parents come earlier in the list, so chains never loop.
        parentId: spec.parent !== undefined && i > 0 ? idOf(`img${spec.parent % i}`) : null,
        repoTags: tags,
        repoDigests: spec.digests,
        created: ago(spec.age),
        size: spec.size,
        sharedSize: null,
        labels: spec.label ? { [spec.label]: 'yes' } : {},
      };
    });
    const cs: ContainerRecord[] = containers.map((c, i) => ({
      id: idOf(`c${i}`).slice(7),
      names: [`c${i}`],
      imageId: records[c.image % records.length]!.id,
      image: 'x',
      state: c.state,
      created: ago('20d'),
      startedAt: c.state === 'created' ? null : ago('20d'),
      finishedAt: c.state === 'running' || c.state === 'created' ? null : ago(c.finished),
      mountImageIds: [],
    }));
    return inventory(layered(records), cs);
  });

const RULES = [
  '  - name: dangling\n    match: { untagged: true }\n',
  '  - name: prs\n    match: { tags: ["pr-*", "sha-*"] }\n    keep: { newest: 1 }\n',
  '  - name: apps\n    match: { repositories: ["**/app", "app"] }\n    olderThan: 1d\n',
  '  - name: unused\n    match: { unused: true }\n    unusedFor: 1d\n',
  '  - name: untag-1\n    action: untag\n    match: { tags: ["1"] }\n',
  '  - name: nginx\n    match: { repositories: [nginx] }\n    keep: { newest: 2, by: lastUsed }\n',
];
const PROTECTS = [
  '',
  'protect: { tags: [latest, "v*.*.*"] }\n',
  'protect: { labels: [keep], youngerThan: 1h }\n',
  'protect: { repositories: ["localhost/**"] }\n',
];

const arbPolicy = fc
  .record({
    rules: fc.subarray(RULES, { minLength: 1 }),
    protect: fc.constantFrom(...PROTECTS),
    stopped: fc.constantFrom('protect', 'remove'),
    disk: fc.constantFrom('', 'disk: { maxImageBytes: 1kB, targetImageBytes: 500B }\n'),
  })
  .map((p) =>
    policy(
      `version: 1\n${p.protect}containers: { stopped: ${p.stopped}, stoppedFor: 1h }\n${p.disk}rules:\n${p.rules.join('')}`,
    ),
  );

function deletedIds(plan: Plan): Set<string> {
  return new Set(plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId));
}

describe('planner properties', () => {
  it('never touches an image a running container uses, nor a whole-image protected one', () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, (inv, pol) => {
        const plan = makePlan({ policy: pol, inventory: inv, now: NOW });
        const touched = new Set(plan.actions.filter((a) => a.type !== 'remove-container').map((a) => a.imageId));
        for (const c of inv.containers) {
          if (['running', 'paused', 'restarting'].includes(c.state)) expect(touched.has(c.imageId)).toBe(false);
        }
        for (const img of inv.images) {
          const young = Date.parse(img.created) > NOW - 3_600_000 && pol.protect.youngerThanMs !== null;
          const labelled = pol.protect.labels.some((l) => img.labels[l.key] !== undefined);
          if (young || labelled) expect(touched.has(img.id)).toBe(false);
        }
        // Only stopped containers are removed.
        for (const a of plan.actions.filter((x) => x.type === 'remove-container')) {
          const c = inv.containers.find((x) => x.id === a.containerId)!;
          expect(['exited', 'created', 'dead']).toContain(c.state);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never untags a protected reference, and a kept image keeps a reference', () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, (inv, pol) => {
        const plan = makePlan({ policy: pol, inventory: inv, now: NOW });
        const deleted = deletedIds(plan);
        for (const a of plan.actions.filter((x) => x.type === 'untag')) {
          const ref = parseReference(a.ref!);
          if (ref.tag) expect(pol.protect.tags.some((g) => g.test(ref.tag!))).toBe(false);
        }
        for (const img of inv.images) {
          if (deleted.has(img.id) || img.repoTags.length === 0) continue;
          const untagged = new Set(
            plan.actions.filter((a) => a.type === 'untag' && a.imageId === img.id).map((a) => a.ref),
          );
          const left = img.repoTags.filter((t) => !untagged.has(t));
          const digestRepos = new Set(img.repoDigests.map((d) => parseReference(d).normalized));
          const tagRepos = new Set(img.repoTags.map((t) => parseReference(t).normalized));
          const independentDigests = [...digestRepos].filter((r) => !tagRepos.has(r)).length;
          expect(left.length + independentDigests).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every delete follows the untags of all but one reference; children go before parents; kept images keep their ancestors', () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, (inv, pol) => {
        const plan = makePlan({ policy: pol, inventory: inv, now: NOW });
        const byId = new Map(inv.images.map((i) => [i.id, i]));
        const position = new Map<string, number>();
        plan.actions.forEach((a, i) => {
          if (a.type === 'delete') position.set(a.imageId, i);
        });
        plan.actions.forEach((a, i) => {
          if (a.type !== 'delete') {
            const del = position.get(a.imageId);
            if (del !== undefined) expect(i).toBeLessThan(del);
            return;
          }
          const img = byId.get(a.imageId)!;
          const untagged = new Set(
            plan.actions
              .slice(0, i)
              .filter((x) => x.type === 'untag' && x.imageId === a.imageId)
              .map((x) => x.ref),
          );
          const tagsLeft = img.repoTags.filter((t) => !untagged.has(t));
          expect(tagsLeft.length).toBeLessThanOrEqual(1);
          const reposLeft = new Set(a.refs!.map((r) => parseReference(r).normalized));
          expect(reposLeft.size).toBeLessThanOrEqual(1);
          if (img.parentId && position.has(img.parentId)) expect(i).toBeLessThan(position.get(img.parentId)!);
        });
        const deleted = deletedIds(plan);
        for (const img of inv.images) {
          if (deleted.has(img.id)) continue;
          for (let p = img.parentId; p; p = byId.get(p)?.parentId ?? null) expect(deleted.has(p)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keep.newest holds: the N newest covered images of a repository keep their references there', () => {
    const pol = policy(
      'version: 1\nrules:\n  - name: k\n    match: { repositories: ["**"] }\n    keep: { newest: 2 }\n',
    );
    fc.assert(
      fc.property(arbInventory, (inv) => {
        const plan = makePlan({ policy: pol, inventory: inv, now: NOW });
        const deleted = deletedIds(plan);
        const untagged = new Set(plan.actions.filter((a) => a.type === 'untag').map((a) => a.ref));
        const groups = new Map<string, ImageRecord[]>();
        for (const img of inv.images) {
          for (const r of [...img.repoTags, ...img.repoDigests]) {
            const g = parseReference(r).normalized;
            if (!groups.get(g)?.includes(img)) groups.set(g, [...(groups.get(g) ?? []), img]);
          }
        }
        for (const [repo, images] of groups) {
          const newest = [...images]
            .sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? -1 : 1))
            .slice(0, 2);
          for (const img of newest) {
            expect(deleted.has(img.id)).toBe(false);
            for (const t of img.repoTags.filter((x) => parseReference(x).normalized === repo))
              expect(untagged.has(t)).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is stable under shuffling of the inventory', () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, fc.infiniteStream(fc.nat()), (inv, pol, rnd) => {
        const shuffle = <T>(xs: T[]) =>
          xs
            .map((x) => [rnd.next().value, x] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, x]) => x);
        const other = {
          ...inv,
          images: shuffle(inv.images).map((i) => ({ ...i, repoTags: shuffle(i.repoTags) })),
          containers: shuffle(inv.containers),
        };
        expect(JSON.stringify(makePlan({ policy: pol, inventory: other, now: NOW }))).toBe(
          JSON.stringify(makePlan({ policy: pol, inventory: inv, now: NOW })),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('an image with a reference protected by pattern is never deleted, disk section included, and says so in codes', () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, (inv, pol) => {
        const plan = makePlan({ policy: pol, inventory: inv, now: NOW });
        const deleted = deletedIds(plan);
        const { repositories, tags, references } = pol.protect;
        for (const img of inv.images) {
          const protectedRef = [...img.repoTags, ...img.repoDigests].some((text) => {
            const ref = parseReference(text);
            const names = [ref.repository, ref.normalized];
            if (repositories.some((g) => names.some((n) => g.test(n)))) return true;
            if (ref.kind !== 'tag') return false;
            return (
              tags.some((g) => g.test(ref.tag!)) ||
              references.some((g) => g.tag.test(ref.tag!) && names.some((n) => g.repository.test(n)))
            );
          });
          if (!protectedRef) continue;
          expect(deleted.has(img.id)).toBe(false);
          const kept = plan.kept.find((k) => k.imageId === img.id)!;
          expect([
            'protected-reference',
            'parent-of-kept',
            'in-use',
            'in-use-stopped',
            'protected-label',
            'protected-id',
            'protected-age',
          ]).toContain(kept.reason);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("without layers, the rules' deletions are the same, nothing is evicted, and no bytes are claimed", () => {
    fc.assert(
      fc.property(arbInventory, arbPolicy, (inv, pol) => {
        const exact = makePlan({ policy: pol, inventory: inv, now: NOW });
        const blind = makePlan({
          policy: pol,
          inventory: { ...inv, images: inv.images.map(({ layers: _layers, ...i }) => i) },
          now: NOW,
        });
        const byRules = (p: Plan) =>
          p.actions
            .filter((a) => a.type === 'delete' && a.rule !== 'disk')
            .map((a) => a.imageId)
            .sort();
        expect(byRules(blind)).toEqual(byRules(exact));
        expect(blind.actions.filter((a) => a.rule === 'disk')).toEqual([]);
        expect(blind.actions.filter((a) => a.bytes !== undefined)).toEqual([]);
        // Nothing deleted frees exactly nothing, with or without layers.
        if (blind.summary.deletes > 0) expect(blind.summary).toMatchObject({ bytes: null, estimate: 'unavailable' });
        else expect(blind.summary).toMatchObject({ bytes: 0, estimate: 'layers' });
        expect(exact.summary.estimate).toBe('layers');
        if (pol.disk) expect(blind.disk?.status).toBe('accounting-unavailable');
      }),
      { numRuns: 200 },
    );
  });
});
