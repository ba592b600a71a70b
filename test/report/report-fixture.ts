import { applyPlan } from '../../src/execute/apply.js';
import type { ApplyReport } from '../../src/execute/types.js';
import { makePlan } from '../../src/plan/plan.js';
import { container, idOf, image, inventory, layered, NOW, policy } from '../support/builders.js';
import { FakeEngine } from '../support/fake-engine.js';

/**
 * A real ApplyReport: a plan from the planner, applied to the in-memory engine, with one step of each
 * outcome: container removed, references untagged, images deleted, one delete failed (transport, did not
 * happen) and its parent skipped because of it. `layers: false` plans without the images' layers: no estimate.
 */
export async function mixedReport({ layers = true } = {}): Promise<ApplyReport> {
  const images = [
    image('old', { tags: ['app:1', 'app:2'] }),
    image('kid', { tags: ['kid:1'], parent: 'old' }),
    image('svc', { tags: ['svc:1'], size: 250_000_000 }),
    image('web', { tags: ['web:1', 'web:2', 'web:3'] }),
  ];
  const inv = inventory(layers ? layered(images) : images, [container('c1', 'svc', 'exited')]);
  const plan = makePlan({
    policy: policy(
      `version: 1\nname: nightly\ncontainers: { stopped: remove }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n`,
    ),
    inventory: inv,
    now: NOW,
  });
  const engine = new FakeEngine(inv);
  engine.fault = (m, arg) =>
    m === 'deleteImage' && arg === idOf('kid') ? { kind: 'transport', happened: false } : undefined;
  let t = NOW + 60_000;
  return applyPlan(plan, engine, { concurrency: 2, clock: () => (t += 250) });
}
