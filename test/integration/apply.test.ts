/** `imgsweep apply` on a real dockerd: the suite of test/support/apply-suite.ts (apply-podman.test.ts runs it on Podman). */
import { applySuite } from '../support/apply-suite.js';

applySuite('docker');
