/**
 * `imgsweep apply` when the engine changed between plan and apply, and its refusals, on a real dockerd: the suite
 * of test/support/apply-safety-suite.ts (apply-safety-podman.test.ts runs it on Podman).
 */
import { applySafetySuite } from '../support/apply-safety-suite.js';

applySafetySuite('docker');
