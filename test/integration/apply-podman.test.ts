/** `imgsweep apply` on a real Podman service: the suite of test/support/apply-suite.ts (apply.test.ts runs it on dockerd). */
import { applySuite } from '../support/apply-suite.js';

applySuite('podman');
