import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatMetrics } from '../../src/report/metrics.js';
import { engineTestsSkipped } from '../support/dockerd.js';
import { mixedReport } from '../report/report-fixture.js';

/** The metrics textfile is clean under `promtool check metrics` (Debian's prometheus package, which
 * `npm test` installs with the engines; skipped only with them, never in CI). */
describe.skipIf(engineTestsSkipped())('metrics textfile', () => {
  it('passes promtool check metrics, for several engines and with and without a report', async () => {
    const report = await mixedReport();
    const text = formatMetrics([
      { engine: 'unix:///var/run/docker.sock', success: true, finishedAt: 1795810881, durationSeconds: 2.5, report },
      { engine: 'tcp://build-02:2376', success: false, finishedAt: 1795810882, durationSeconds: 0.2, report: null },
      // A plan without an estimate: its run gives no estimated-bytes sample.
      {
        engine: 'tcp://build-03:2376',
        success: true,
        finishedAt: 1795810883,
        durationSeconds: 1.5,
        report: await mixedReport({ layers: false }),
      },
    ]);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(
      r.error,
      "promtool not found: install Debian's prometheus package (npm test installs it as root)",
    ).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
