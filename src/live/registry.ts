/**
 * Asking registries whether they still serve the digests of the images a policy might delete: only for a policy
 * that uses protect.unrestorable or match.restorable, and only for the images whose fate depends on the answer.
 */
import type { Inventory } from '../inventory/types.js';
import { evaluatePolicy, type PlanInput } from '../plan/plan.js';
import { checkDigests, type RegistryCheckOptions } from '../registry/check.js';

export interface RegistryCheck {
  /** live: ask the registries now; off: ask none (every answer unknown, so nothing is taken as restorable). */
  mode: 'live' | 'off';
  timeoutMs?: number;
  /** The checker (tests give their own options through it). */
  options?: RegistryCheckOptions;
}

/**
 * Plans once as if any image might be restorable: the images that plan deletes are those whose fate can hang on
 * a registry's answer. Their digests are asked (each once), and the answers go into the inventory.
 */
export async function attachRegistryAnswers(
  /** Registries that may use plain HTTP (the engine's insecure-registries). */
  insecureRegistries: string[],
  input: PlanInput,
  check: RegistryCheck,
): Promise<void> {
  const inventory: Inventory = input.inventory;
  if (check.mode === 'off') {
    inventory.registry = { answers: {}, calls: 0 };
    return;
  }
  const optimistic = evaluatePolicy({ ...input, trace: false, assumeRestorableAny: true }).plan;
  const candidates = new Set(optimistic.actions.filter((a) => a.type === 'delete').map((a) => a.imageId));
  // Answers had already (another policy's, in a diff) are kept and not asked again.
  const known = inventory.registry?.answers ?? {};
  const before = inventory.registry?.calls ?? 0;
  const refs = [...new Set(inventory.images.filter((i) => candidates.has(i.id)).flatMap((i) => i.repoDigests))]
    .filter((ref) => known[ref] === undefined)
    .sort();
  if (refs.length === 0) {
    inventory.registry = { answers: { ...known }, calls: before };
    return;
  }
  const { answers, calls } = await checkDigests(refs, {
    insecureRegistries,
    ...(check.timeoutMs !== undefined ? { timeoutMs: check.timeoutMs } : {}),
    ...check.options,
  });
  inventory.registry = { answers: { ...known, ...Object.fromEntries(answers) }, calls: before + calls };
}
