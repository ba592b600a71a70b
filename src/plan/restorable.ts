/**
 * Whether an image can be pulled again: a registry still serves one of its repository digests. Decided from the
 * registries' answers the inventory carries; pure.
 */
import type { ImageRecord, Inventory, RegistryAnswer } from '../inventory/types.js';
import type { Policy, Selector } from '../policy/types.js';

export type Restorability =
  | { state: 'yes'; digest: string }
  /** No repository digest at all, or every registry answered that it no longer serves the image. */
  | { state: 'no'; detail: string }
  /** Some registry could not be asked (or was not): never taken as restorable. */
  | { state: 'unknown'; detail: string }
  /** Planning to learn which images to ask about: a restorable match holds either way, protection does not. */
  | { state: 'any' };

/** Each repository digest of an image with what its registry said (null: not asked). */
export function digestAnswers(
  image: ImageRecord,
  answers: Readonly<Record<string, RegistryAnswer>> | undefined,
): { ref: string; answer: RegistryAnswer | null }[] {
  return image.repoDigests.map((ref) => ({ ref, answer: answers?.[ref] ?? null }));
}

export function restorabilityOf(
  image: ImageRecord,
  answers: Readonly<Record<string, RegistryAnswer>> | undefined,
  assumeAny: boolean,
): Restorability {
  if (image.repoDigests.length === 0)
    return { state: 'no', detail: 'no repository digest: built or loaded here, never pushed or pulled' };
  if (assumeAny) return { state: 'any' };
  const seen = image.repoDigests.map((d) => ({ digest: d, answer: answers?.[d] }));
  const served = seen.find((s) => s.answer?.status === 'present');
  if (served) return { state: 'yes', digest: served.digest };
  if (seen.every((s) => s.answer?.status === 'absent'))
    return {
      state: 'no',
      detail: `no registry serves it any more (${[...new Set(seen.map((s) => s.answer!.registry))].join(', ')} answered 404)`,
    };
  const open = seen.filter((s) => s.answer?.status !== 'absent');
  const why = open.map((s) =>
    s.answer ? `${s.answer.registry}: ${s.answer.reason ?? 'no answer'}` : `${s.digest.split('@')[0]}: not asked`,
  );
  return { state: 'unknown', detail: `the registry could not be asked (${[...new Set(why)].join('; ')})` };
}

/** The policy needs to know what can be pulled again: protect.unrestorable, or a rule that matches restorable. */
export function usesRegistry(policy: Policy): boolean {
  const uses = (s: Selector | null) => s !== null && s.restorable !== null;
  return policy.protect.unrestorable || policy.rules.some((r) => uses(r.match) || uses(r.exclude));
}

/** What the registries were asked and said, for the plan. */
export interface RegistrySummary {
  /** Digest references answered (present, absent or unknown). */
  digests: number;
  present: number;
  absent: number;
  unknown: number;
  /** Requests made to registries; null when the answers came from a saved inventory that does not say. */
  calls: number | null;
  /** Registries that could not be asked, each with one reason. */
  unreachable: { registry: string; reason: string }[];
  /** When the first and the last answer were had (null: no answer). */
  askedFrom: string | null;
  askedTo: string | null;
}

export function registrySummary(inventory: Inventory): RegistrySummary {
  const answers = Object.values(inventory.registry?.answers ?? {});
  const unreachable = new Map<string, string>();
  for (const a of answers)
    if (a.status === 'unknown' && !unreachable.has(a.registry)) unreachable.set(a.registry, a.reason ?? 'no answer');
  const times = answers.map((a) => a.at).sort();
  return {
    digests: answers.length,
    present: answers.filter((a) => a.status === 'present').length,
    absent: answers.filter((a) => a.status === 'absent').length,
    unknown: answers.filter((a) => a.status === 'unknown').length,
    calls: inventory.registry?.calls ?? null,
    unreachable: [...unreachable].map(([registry, reason]) => ({ registry, reason })),
    askedFrom: times[0] ?? null,
    askedTo: times.at(-1) ?? null,
  };
}
