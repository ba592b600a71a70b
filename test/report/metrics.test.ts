import { describe, expect, it } from 'vitest';
import { formatMetrics, type RunMetrics } from '../../src/report/metrics.js';
import { makePlan } from '../../src/plan/plan.js';
import { cacheRecord, image, inventory, layered, NOW, policy } from '../support/builders.js';
import { mixedReport } from './report-fixture.js';

const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*\{engine="(\\.|[^"\\])*"\} -?[0-9.e+]+$/;
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;

interface Family {
  help: string | null;
  type: string | null;
  samples: { engine: string; value: number }[];
}

/**
 * A strict reading of the text exposition format as node_exporter's textfile collector takes it: every
 * family's lines together, HELP then TYPE before its samples, each at most once, samples well formed,
 * one series per label set, a final newline.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: string | null = null;
  const enter = (name: string) => {
    if (current !== name) {
      expect(closed.has(name), `family ${name} is split`).toBe(false);
      if (current) closed.add(current);
      current = name;
    }
    if (!families.has(name)) families.set(name, { help: null, type: null, samples: [] });
    return families.get(name)!;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    const help = HELP.exec(line);
    const type = TYPE.exec(line);
    if (help) {
      const f = enter(help[1]!);
      expect(f.help, `second HELP for ${help[1]}`).toBeNull();
      expect(f.type, `HELP after TYPE for ${help[1]}`).toBeNull();
      expect(f.samples, `HELP after samples of ${help[1]}`).toEqual([]);
      f.help = help[2]!;
    } else if (type) {
      const f = enter(type[1]!);
      expect(f.type, `second TYPE for ${type[1]}`).toBeNull();
      expect(f.samples, `TYPE after samples of ${type[1]}`).toEqual([]);
      f.type = type[2]!;
    } else {
      expect(line, 'sample line').toMatch(SAMPLE);
      const name = line.slice(0, line.indexOf('{'));
      const f = enter(name);
      expect(f.type, `${name} sampled before its TYPE`).not.toBeNull();
      const label = /\{engine="((?:\\.|[^"\\])*)"\}/.exec(line)![1]!;
      const engine = label.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      expect(
        f.samples.map((s) => s.engine),
        `duplicate series ${name}{engine="${label}"}`,
      ).not.toContain(engine);
      f.samples.push({ engine, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
    }
  }
  return families;
}

/** Figures from the plan a run carried out: a sample only when the plan had them. */
const PLAN_FIGURES = new Set([
  'imgsweep_last_run_build_cache_bytes',
  'imgsweep_last_run_disk_image_bytes',
  'imgsweep_last_run_disk_usage_ratio',
]);

const value = (families: Map<string, Family>, name: string, engine: string) =>
  families.get(name)!.samples.find((s) => s.engine === engine)!.value;

describe('formatMetrics', () => {
  it('is valid text exposition, with the values of an apply report', async () => {
    const report = await mixedReport();
    const s = report.summary;
    // The fixture has a bit of everything; check it did, so the values below mean something.
    expect(s).toMatchObject({ deleted: 2, untagged: 3, containersRemoved: 1, failed: 1, skipped: 1 });
    const run: RunMetrics = {
      engine: 'build-01',
      success: false,
      finishedAt: 1795780800,
      durationSeconds: 12.5,
      report,
    };
    const families = parseExposition(formatMetrics([run]));

    for (const [name, f] of families) {
      expect(name).toMatch(/^imgsweep_/);
      expect(f.help).not.toBeNull();
      expect(f.type).toBe('gauge');
      expect(f.samples).toHaveLength(PLAN_FIGURES.has(name) ? 0 : 1);
    }
    const v = (name: string) => value(families, name, 'build-01');
    expect(v('imgsweep_last_run_timestamp_seconds')).toBe(1795780800);
    expect(v('imgsweep_last_run_success')).toBe(0);
    expect(v('imgsweep_last_run_duration_seconds')).toBe(12.5);
    expect(v('imgsweep_last_run_images_deleted')).toBe(s.deleted);
    expect(v('imgsweep_last_run_references_untagged')).toBe(s.untagged);
    expect(v('imgsweep_last_run_containers_removed')).toBe(s.containersRemoved);
    expect(v('imgsweep_last_run_bytes_reclaimed_estimated')).toBe(s.bytesEstimated);
    expect(s.bytesEstimated).toBeGreaterThan(0);
    // The fake engine's layer total shrinks by the deleted images' sizes (svc 250 MB, web 100 MB).
    expect(s.bytesActual).toBe(350_000_000);
    expect(v('imgsweep_last_run_bytes_reclaimed')).toBe(350_000_000);
    expect(v('imgsweep_last_run_steps_skipped')).toBe(s.skipped);
    expect(v('imgsweep_last_run_steps_failed')).toBe(s.failed);
    expect(v('imgsweep_last_run_steps_unknown')).toBe(s.unknown);
  });

  it('a run whose plan had no estimate gives no estimated-bytes sample, rather than a wrong one', async () => {
    const report = await mixedReport({ layers: false });
    expect(report.summary).toMatchObject({ estimate: 'unavailable', bytesEstimated: null, deleted: 2 });
    const text = formatMetrics([
      { engine: 'blind', success: true, finishedAt: 1, durationSeconds: 1, report },
      { engine: 'exact', success: true, finishedAt: 1, durationSeconds: 1, report: await mixedReport() },
    ]);
    const families = parseExposition(text);
    expect(families.get('imgsweep_last_run_bytes_reclaimed_estimated')!.samples.map((x) => x.engine)).toEqual([
      'exact',
    ]);
    expect(value(families, 'imgsweep_last_run_bytes_reclaimed_estimated', 'exact')).toBe(350_000_000);
    expect(value(families, 'imgsweep_last_run_images_deleted', 'blind')).toBe(2);
    expect(value(families, 'imgsweep_last_run_bytes_reclaimed', 'blind')).toBe(350_000_000);
  });

  it('a successful run reports 1', () => {
    const families = parseExposition(
      formatMetrics([{ engine: 'e', success: true, finishedAt: 1, durationSeconds: 0.25, report: null }]),
    );
    expect(value(families, 'imgsweep_last_run_success', 'e')).toBe(1);
  });

  it('a run that ended before a report (refused, engine down) still gives every metric, with zero counts', () => {
    const families = parseExposition(
      formatMetrics([{ engine: 'e', success: false, finishedAt: 1795780800, durationSeconds: 0.003, report: null }]),
    );
    expect(families.size).toBeGreaterThanOrEqual(10);
    // Bytes the engine reported freed: no figure, so no sample (rather than a misleading 0).
    for (const [name, f] of families)
      expect(f.samples).toHaveLength(name === 'imgsweep_last_run_bytes_reclaimed' || PLAN_FIGURES.has(name) ? 0 : 1);
    expect(value(families, 'imgsweep_last_run_images_deleted', 'e')).toBe(0);
    expect(value(families, 'imgsweep_last_run_steps_failed', 'e')).toBe(0);
    expect(value(families, 'imgsweep_last_run_duration_seconds', 'e')).toBe(0.003);
  });

  it('one sample per engine, every family grouped', async () => {
    const report = await mixedReport();
    const runs: RunMetrics[] = [
      { engine: 'build-01', success: true, finishedAt: 100, durationSeconds: 1, report },
      { engine: 'build-02', success: false, finishedAt: 200, durationSeconds: 2, report: null },
      { engine: 'podman.example:2376', success: true, finishedAt: 300, durationSeconds: 3, report: null },
    ];
    const families = parseExposition(formatMetrics(runs));
    for (const [name, f] of families) {
      if (PLAN_FIGURES.has(name)) continue;
      const engines =
        name === 'imgsweep_last_run_bytes_reclaimed' ? ['build-01'] : ['build-01', 'build-02', 'podman.example:2376'];
      if (name !== 'imgsweep_last_run_bytes_reclaimed' || report.summary.bytesActual !== null)
        expect(f.samples.map((x) => x.engine)).toEqual(engines);
    }
    expect(value(families, 'imgsweep_last_run_timestamp_seconds', 'build-02')).toBe(200);
    expect(value(families, 'imgsweep_last_run_images_deleted', 'build-01')).toBe(report.summary.deleted);
    expect(value(families, 'imgsweep_last_run_images_deleted', 'build-02')).toBe(0);
  });

  it.each([
    ['a quote', 'host "a"', 'host \\"a\\"'],
    ['a backslash', 'C:\\docker', 'C:\\\\docker'],
    ['a newline', 'line1\nline2', 'line1\\nline2'],
    ['all of them', 'a\\"\n', 'a\\\\\\"\\n'],
    ['unicode', 'hôte-é', 'hôte-é'],
  ])('escapes label values: %s', (_, engine, escaped) => {
    const text = formatMetrics([{ engine, success: true, finishedAt: 1, durationSeconds: 1, report: null }]);
    expect(text).toContain(`imgsweep_last_run_success{engine="${escaped}"} 1\n`);
    const families = parseExposition(text);
    expect(value(families, 'imgsweep_last_run_success', engine)).toBe(1);
  });

  it("the plan's figures: the build cache's size, and what maxImageBytes and maxUsage measured (cache included)", () => {
    const images = layered([image('a', { tags: ['a:1'], size: 1_000 }), image('b', { tags: ['b:1'], size: 1_000 })]);
    const record = (id: string, size: number, shared = false) =>
      cacheRecord(id, { size, shared, description: id, used: '1d' });
    const inv = inventory(images, [], { buildCache: [record('c1', 600), record('c2', 400), record('s1', 900, true)] });
    inv.disk = { path: '/var/lib/docker', totalBytes: 10_000, usedBytes: 4_000, availableBytes: 6_000 };
    const plan = makePlan({
      policy: policy('version: 1\nbuildCache: { unusedFor: 30d }\ndisk: { maxImageBytes: 1GB, maxUsage: 90% }\n'),
      inventory: inv,
      now: NOW,
    });
    const families = parseExposition(
      formatMetrics([{ engine: 'e', success: true, finishedAt: 1, durationSeconds: 1, report: null, plan }]),
    );
    expect(value(families, 'imgsweep_last_run_build_cache_bytes', 'e')).toBe(1_900);
    // Images 2000 and the cache no image shares 1000: the shared record is an image's layer, counted once.
    expect(value(families, 'imgsweep_last_run_disk_image_bytes', 'e')).toBe(3_000);
    expect(value(families, 'imgsweep_last_run_disk_usage_ratio', 'e')).toBe(0.4);
  });

  it('no runs: only HELP and TYPE lines, still valid', () => {
    const families = parseExposition(formatMetrics([]));
    for (const f of families.values()) expect(f.samples).toEqual([]);
  });
});
