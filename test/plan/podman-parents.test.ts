import { describe, expect, it } from 'vitest';
import { makePlan } from '../../src/plan/plan.js';
import type { Inventory } from '../../src/inventory/types.js';
import { idOf, image, inventory, NOW, policy } from '../support/builders.js';

/** Podman ignores noprune: a delete may not take an untagged parent the plan keeps along with it. */
const onPodman = (inv: Inventory): Inventory => ({ ...inv, engine: { ...inv.engine, kind: 'podman' } });
const deletes = (inv: Inventory, yaml: string) =>
  makePlan({ policy: policy(yaml), inventory: inv, now: NOW })
    .actions.filter((a) => a.type === 'delete')
    .map((a) => a.imageId);

const APPS = 'version: 1\nrules:\n  - name: apps\n    match: { repositories: ["app"] }\n';
const APPS_AND_DANGLING = `${APPS}  - name: dangling\n    match: { untagged: true }\n`;

describe('Podman: parents it would prune', () => {
  // base (tagged) <- mid (untagged intermediate) <- app:1 and app:2
  const chain = () => [
    image('base', { tags: ['base:1'] }),
    image('mid', { parent: 'base' }),
    image('one', { tags: ['app:1'], parent: 'mid' }),
    image('two', { tags: ['app:2'], parent: 'mid' }),
  ];

  it('keeps one child of a kept untagged parent, saying why, so that deleting the other leaves the parent a child', () => {
    const inv = onPodman(inventory(chain()));
    const plan = makePlan({ policy: policy(APPS), inventory: inv, now: NOW });
    const gone = plan.actions.filter((a) => a.type === 'delete').map((a) => a.imageId);
    expect(gone).toHaveLength(1);
    const stays = gone[0] === idOf('one') ? idOf('two') : idOf('one');
    expect(plan.kept.find((k) => k.imageId === stays)).toMatchObject({
      reason: 'engine-prunes-parent',
      parent: idOf('mid'),
    });
    expect(plan.kept.map((k) => k.imageId)).toContain(idOf('mid'));
    // An only child is kept.
    const only = onPodman(
      inventory([
        image('base', { tags: ['base:1'] }),
        image('mid', { parent: 'base' }),
        image('one', { tags: ['app:1'], parent: 'mid' }),
      ]),
    );
    expect(deletes(only, APPS)).toEqual([]);
  });

  it('deletes them when the parent goes too, or when a kept child stays with the parent', () => {
    expect(deletes(onPodman(inventory(chain())), APPS_AND_DANGLING).sort()).toEqual(
      [idOf('mid'), idOf('one'), idOf('two')].sort(),
    );
    const withKeeper = [...chain(), image('stay', { tags: ['other:1'], parent: 'mid' })];
    expect(deletes(onPodman(inventory(withKeeper)), APPS).sort()).toEqual([idOf('one'), idOf('two')].sort());
  });

  it('a tagged parent is never pruned: its children go', () => {
    const tagged = [image('base', { tags: ['base:1'] }), image('one', { tags: ['app:1'], parent: 'base' })];
    expect(deletes(onPodman(inventory(tagged)), APPS)).toEqual([idOf('one')]);
  });

  it('Docker honours noprune: the same plan deletes the children and keeps the parent', () => {
    expect(deletes(inventory(chain()), APPS).sort()).toEqual([idOf('one'), idOf('two')].sort());
  });
});
