/** Faults injected between imgsweep and a real Podman service: the subset test/support/fault-suite.ts runs there. */
import { faultSuite } from '../support/fault-suite.js';

faultSuite('podman');
