/**
 * Why a step was skipped or failed, or what a done step confirmed: codes with the facts, the engine's own
 * message where it gave one. Only src/report turns them into words.
 */
import type { ContainerState } from '../inventory/types.js';
import type { ContainerRef } from '../plan/reasons.js';
import type { PlanAction } from '../plan/types.js';
import type { StepStatus } from './types.js';

/** What a step acts on: enough to name it. */
export type StepTarget = Pick<PlanAction, 'type' | 'imageId' | 'ref' | 'containerId'>;

/** Why a run stopped starting steps. */
export type StopCause = { by: 'audit-log'; message: string } | { by: 'signal'; signal: 'SIGINT' | 'SIGTERM' };

export type StepReason =
  // The engine changed since planning: skipped.
  | { code: 'container-gone' }
  | { code: 'container-running'; state: ContainerState }
  | { code: 'container-image-changed' }
  | { code: 'image-in-use'; container: ContainerRef }
  | { code: 'reference-gone' }
  /** The reference names another image now (full ID). */
  | { code: 'reference-moved'; imageId: string }
  /** The reference went and came back while it was checked: left to a later run. */
  | { code: 'reference-changed' }
  | { code: 'image-gone' }
  /** The image holds references the plan did not name. */
  | { code: 'unplanned-references'; refs: string[] }
  /** Tags the delete expected are no longer on the image. */
  | { code: 'references-lost'; refs: string[] }
  /** An image the plan keeps (full ID) depends on it as a parent now. */
  | { code: 'new-child'; child: string }
  /** The reference is the image's last now: the image's planned delete by ID removes it. */
  | { code: 'left-for-delete' }
  /** The reference is the last of an image that stays: untagging it would delete the image. */
  | { code: 'last-reference' }
  /** The engine refused the change (409, or Podman's 500 for an image with several names). */
  | { code: 'conflict'; message: string }
  /** Step `step` (`on`), which this one waits for, was skipped or failed without clearing the way. */
  | { code: 'waits-for'; step: number; on: StepTarget; status: StepStatus; cause: StepReason | null }
  /** The run stopped starting steps before this one. */
  | { code: 'not-started'; cause: StopCause }
  /** A saved plan's step that the policy's plan made just now does not hold (apply PLAN.json -p POLICY). */
  | { code: 'not-in-current-plan' }
  // Failed.
  | { code: 'engine-error'; message: string; transport: boolean }
  /** The engine said not found (404), yet a look finds the object still there. */
  | { code: 'not-found-but-present'; message: string }
  /** A look before the step failed: whether anything changed is unknown. */
  | { code: 'check-failed'; message: string }
  // Unknown.
  /** The request failed in transport (`message`), and the look afterwards failed too (`check`). */
  | { code: 'outcome-unknown'; message: string; check: string }
  // Done, with what was confirmed.
  /** The engine removed the image along with the delete of `imageId` (Podman prunes untagged parents). */
  | { code: 'removed-with'; imageId: string }
  /** The request failed in transport, and a look confirmed the step happened. */
  | { code: 'confirmed-after-transport-error'; message: string };

export type StepReasonCode = StepReason['code'];
