/** Plans for the HTML report's tests, made by the real planner: small ones from builders, large from bench data. */
import { fileURLToPath } from 'node:url';
import type { Inventory } from '../../src/inventory/types.js';
import { evaluatePolicy } from '../../src/plan/plan.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { imageTimesOf, type HtmlReportInput } from '../../src/report/html/page.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

type Synthetic = { syntheticInventory: (n: number, seed?: number) => Inventory; NOW: number };

/** policies/ci-runner.yaml over bench/synthetic.mjs's inventory of n images (its disk 90% full). */
export async function syntheticReport(n: number): Promise<HtmlReportInput> {
  const bench = (await import(new URL('../../bench/synthetic.mjs', import.meta.url).href)) as Synthetic;
  const loaded = await loadPolicyFile(root('policies/ci-runner.yaml'));
  if (!loaded.ok) throw new Error('policies/ci-runner.yaml is invalid');
  const { plan, facts } = evaluatePolicy({
    policy: loaded.policy,
    inventory: bench.syntheticInventory(n, 1),
    now: bench.NOW,
  });
  return { plan, images: imageTimesOf(facts) };
}
