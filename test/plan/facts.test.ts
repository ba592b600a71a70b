import { describe, expect, it } from 'vitest';
import { imageFacts } from '../../src/plan/facts.js';
import { idOf, image, inventory, NOW, policy } from '../support/builders.js';

const POLICY = policy('version: 1\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n');

describe('imageFacts: depth (number of ancestors)', () => {
  it('counts ancestors along chains, whatever order the images are listed in', () => {
    const inv = inventory([
      image('leaf', { parent: 'mid' }),
      image('root'),
      image('mid', { parent: 'root' }),
      image('other', { parent: 'mid' }),
      image('orphan', { parent: 'not-listed' }),
    ]);
    const facts = imageFacts(inv, POLICY, NOW, {});
    const depth = (name: string) => facts.get(idOf(name))!.depth;
    expect([depth('root'), depth('mid'), depth('leaf'), depth('other'), depth('orphan')]).toEqual([0, 1, 2, 2, 0]);
    expect(
      facts
        .get(idOf('mid'))!
        .children.map((c) => c.image.id)
        .sort(),
    ).toEqual([idOf('leaf'), idOf('other')].sort());
  });

  it('a parent loop (a damaged inventory) ends the count instead of hanging', () => {
    const inv = inventory([
      image('a', { parent: 'c' }),
      image('b', { parent: 'a' }),
      image('c', { parent: 'b' }),
      image('tail', { parent: 'c' }),
    ]);
    const facts = imageFacts(inv, POLICY, NOW, {});
    for (const f of facts.values()) {
      expect(Number.isInteger(f.depth)).toBe(true);
      expect(f.depth).toBeGreaterThanOrEqual(0);
      expect(f.depth).toBeLessThan(4);
    }
    expect(facts.get(idOf('tail'))!.depth).toBeGreaterThan(0);
  });
});
