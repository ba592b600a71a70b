/**
 * The order test files start in: longest first, so that with two workers the long files do not end up last, one
 * worker finishing alone while the other idles. vitest's own order is by the durations it cached in an earlier run
 * (none on a fresh CI checkout) and else by file size, which says little here: apply-podman.test.ts is four lines
 * that run a two-minute suite. So files are ranked by the seconds below (measured in a full run, two workers on two
 * cores); a file not listed is ranked by its cached duration, or when it has none, an integration file as one of a
 * minute (a new one is likely slow: started last, it would run alone at the end) and any other after all these (the
 * unit files, a second or so each, fill the gaps at the end); ties keep vitest's order.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** An integration file neither listed nor cached: ranked as one of a minute. */
const UNKNOWN_INTEGRATION_SECONDS = 60;

/** Seconds per file in a full run (`npm test`); only the order matters, so rough figures do. */
export const EXPECTED_SECONDS: Record<string, number> = {
  'test/integration/crash.test.ts': 108,
  'test/integration/packaging.test.ts': 80,
  'test/integration/apply.test.ts': 78,
  'test/integration/faults.test.ts': 72,
  'test/integration/apply-podman.test.ts': 71,
  'test/integration/differential.test.ts': 61,
  'test/integration/apply-safety-podman.test.ts': 38,
  'test/integration/apply-safety.test.ts': 31,
  'test/integration/build-cache.test.ts': 30,
  'test/integration/watch.test.ts': 26,
  'test/integration/multi-engine.test.ts': 22,
  'test/integration/layer-reads.test.ts': 21,
  'test/integration/disk.test.ts': 19,
  'test/integration/ssh.test.ts': 19,
  'test/integration/engine.test.ts': 18,
  'test/integration/disk-busy.test.ts': 17,
  'test/integration/podman.test.ts': 17,
  'test/integration/faults-podman.test.ts': 16,
  'test/integration/plan.test.ts': 15,
  'test/integration/usage.test.ts': 14,
  'test/integration/terminal.test.ts': 12,
  'test/integration/reclaim.test.ts': 11,
  'test/integration/bin.test.ts': 10,
  'test/integration/remote.test.ts': 7,
  'test/integration/promtool.test.ts': 1,
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = new Map(
      base.map((spec, index) => {
        const path = relative(this.ctx.config.root, spec.moduleId).split('\\').join('/');
        const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)?.duration;
        const unknown = spec.project.name === 'integration' ? UNKNOWN_INTEGRATION_SECONDS : -1;
        const seconds = EXPECTED_SECONDS[path] ?? (cached === undefined ? unknown : cached / 1000);
        return [spec, { seconds, index }] as const;
      }),
    );
    return base.sort((a, b) => {
      const [ra, rb] = [rank.get(a)!, rank.get(b)!];
      return rb.seconds - ra.seconds || ra.index - rb.index;
    });
  }
}
