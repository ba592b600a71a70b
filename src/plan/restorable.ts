/**
 * Whether an image can be pulled again: a registry still serves one of its repository digests. Decided from the
 * registries' answers the inventory carries; pure.
 */
import type { ImageRecord, RegistryAnswer } from '../inventory/types.js';

export type Restorability =
  | { state: 'yes'; digest: string }
  /** No repository digest at all, or every registry answered that it no longer serves the image. */
  | { state: 'no'; detail: string }
  /** Some registry could not be asked (or was not): never taken as restorable. */
  | { state: 'unknown'; detail: string }
  /** Planning to learn which images to ask about: a restorable match holds either way, protection does not. */
  | { state: 'any' };

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
