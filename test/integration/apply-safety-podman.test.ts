/**
 * `imgsweep apply` when the engine changed between plan and apply, and its refusals, on a real Podman service: the
 * suite of test/support/apply-safety-suite.ts (apply-safety.test.ts runs it on dockerd).
 */
import { applySafetySuite } from '../support/apply-safety-suite.js';

applySafetySuite('podman');
