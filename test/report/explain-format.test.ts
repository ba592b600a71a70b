import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../src/plan/plan.js';
import { formatExplain } from '../../src/report/explain-format.js';
import { container, idOf, image, inventory, NOW, policy } from '../support/builders.js';

describe('explain agrees with itself', () => {
  it("a reference that a rule's keep.newest spares says so, as the verdict does", () => {
    const ev = evaluatePolicy({
      policy: policy(
        'version: 1\nrules:\n  - name: old\n    match: { repositories: ["app"] }\n    keep: { newest: 1 }\n',
      ),
      inventory: inventory([
        image('a', { tags: ['app:1'], age: '10d' }),
        image('b', { tags: ['app:2', 'other:1'], age: '1d' }),
      ]),
      now: NOW,
      trace: true,
    });
    const text = formatExplain(ev, idOf('b'), 'app:2');
    expect(text).toMatch(/^ {2}app:2: kept: among the newest kept by rule old$/m);
    expect(text).toMatch(/^ {2}other:1: kept: no rule selects it$/m);
    expect(text).toMatch(/^verdict: KEPT \(keep-newest\): among the newest kept by rule old$/m);
  });

  it('a container that was created and never started is said to be so, not "stopped"', () => {
    const inv = inventory([image('a', { tags: ['app:1'], age: '10d' })], [container('job', 'a', 'created')]);
    for (const stopped of ['protect', 'remove']) {
      const ev = evaluatePolicy({
        policy: policy(
          `version: 1\ncontainers: { stopped: ${stopped}, stoppedFor: 1000d }\nrules:\n  - name: all\n    match: { repositories: ["app"] }\n`,
        ),
        inventory: inv,
        now: NOW,
        trace: true,
      });
      const text = formatExplain(ev, idOf('a'), 'app:1');
      expect(text).toMatch(/^ {2}job \([0-9a-f]{12}\) created: created, never started, keeps the image$/m);
      expect(text).not.toMatch(/stopped less than/);
      if (stopped === 'remove') expect(text).toMatch(/\(created, never started, less than 1000d ago\)$/m);
    }
  });
});
