import { describe, expect, it } from 'vitest';
import type { RegistryAnswer } from '../../src/inventory/types.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { keptText } from '../../src/report/kept-text.js';
import { validatorFor } from '../../src/validation/validators.js';
import { NOW, idOf, image, inventory, policy } from '../support/builders.js';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const images = [
  image('built', { tags: ['acme/app:local'] }), // no digest: built here
  image('served', { tags: ['acme/api:1'], digests: [`registry.acme.io/acme/api@${D(1)}`] }),
  image('pruned', { tags: ['acme/web:1'], digests: [`registry.acme.io/acme/web@${D(2)}`] }),
  image('unasked', { tags: ['nginx:1.27'], digests: [`nginx@${D(3)}`] }),
  image('down', { tags: ['down.example/x:1'], digests: [`down.example/x@${D(4)}`] }),
  // One digest served, one gone: restorable.
  image('mirror', { digests: [`registry.acme.io/m@${D(5)}`, `other.example/m@${D(6)}`] }),
];
const answer = (status: RegistryAnswer['status'], registry: string, reason: string | null = null): RegistryAnswer => ({
  status,
  registry,
  reason,
  at: '2026-11-27T11:00:00Z',
});
const answers: Record<string, RegistryAnswer> = {
  [`registry.acme.io/acme/api@${D(1)}`]: answer('present', 'registry.acme.io'),
  [`registry.acme.io/acme/web@${D(2)}`]: answer('absent', 'registry.acme.io'),
  [`down.example/x@${D(4)}`]: answer('unknown', 'down.example', 'unreachable (ECONNREFUSED)'),
  [`registry.acme.io/m@${D(5)}`]: answer('present', 'registry.acme.io'),
  [`other.example/m@${D(6)}`]: answer('absent', 'other.example'),
};
const inv = inventory(images, [], { registry: { answers } });
const planOf = (yaml: string, assumeRestorableAny = false): Plan =>
  makePlan({ policy: policy(`version: 1\n${yaml}`), inventory: inv, now: NOW, assumeRestorableAny });
const deleted = (p: Plan) =>
  p.actions
    .filter((a) => a.type === 'delete')
    .map((a) => a.imageId)
    .sort();
const ids = (...names: string[]) => names.map(idOf).sort();
const ALL = 'rules:\n  - name: all\n    match: { repositories: ["**"] }\n';

describe('restorable images', () => {
  it('protect.unrestorable keeps what no registry serves and what could not be asked, saying why', () => {
    const p = planOf(`protect: { unrestorable: true }\n${ALL}`);
    expect(deleted(p)).toEqual(ids('served', 'mirror'));
    const why = Object.fromEntries(p.kept.map((k) => [k.imageId, k]));
    expect(why[idOf('built')]).toMatchObject({ reason: 'protected-unrestorable', restorable: 'no' });
    expect(why[idOf('pruned')]).toMatchObject({ reason: 'protected-unrestorable', restorable: 'no' });
    expect(why[idOf('unasked')]).toMatchObject({ reason: 'protected-unrestorable', restorable: 'unknown' });
    expect(why[idOf('down')]).toMatchObject({ reason: 'protected-unrestorable', restorable: 'unknown' });
    expect(keptText(why[idOf('built')]!)).toBe(
      'cannot be pulled again: no repository digest: built or loaded here, never pushed or pulled (protect.unrestorable)',
    );
    expect(keptText(why[idOf('pruned')]!)).toContain('registry.acme.io answered 404');
    expect(keptText(why[idOf('down')]!)).toBe(
      'not known to be restorable: the registry could not be asked (down.example: unreachable (ECONNREFUSED)) (protect.unrestorable)',
    );
    expect(keptText(why[idOf('unasked')]!)).toContain('nginx: not asked');
    expect(validatorFor('plan')(JSON.parse(JSON.stringify(p)))).toBe(true);
  });

  it('match restorable: true takes only what a registry serves; false only what none does; unknown neither', () => {
    expect(deleted(planOf('rules:\n  - name: pulled\n    match: { restorable: true }\n'))).toEqual(
      ids('served', 'mirror'),
    );
    expect(deleted(planOf('rules:\n  - name: local\n    match: { restorable: false }\n'))).toEqual(
      ids('built', 'pruned'),
    );
  });

  it('without the keys nothing changes, whatever the answers', () => {
    expect(deleted(planOf(ALL))).toEqual(ids('built', 'served', 'pruned', 'unasked', 'down', 'mirror'));
  });

  it('assuming any answer (to learn whom to ask): a restorable match holds for every image with a digest', () => {
    const p = planOf(
      `protect: { unrestorable: true }\nrules:\n  - name: pulled\n    match: { restorable: true }\n`,
      true,
    );
    expect(deleted(p)).toEqual(ids('served', 'pruned', 'unasked', 'down', 'mirror'));
  });

  it('the policy keys are validated: booleans, in protect and in match/exclude', () => {
    expect(() => policy('version: 1\nprotect: { unrestorable: yes please }\n')).toThrow(/protect\.unrestorable/);
    expect(() => policy('version: 1\nrules:\n  - name: x\n    match: { restorable: 1 }\n')).toThrow(/restorable/);
    expect(
      policy('version: 1\nrules:\n  - name: x\n    match: { unused: true, exclude: { restorable: false } }\n').rules[0]!
        .exclude!.restorable,
    ).toBe(false);
  });
});
