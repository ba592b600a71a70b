import { describe, expect, it } from 'vitest';
import type { StepReason } from '../../src/execute/reasons.js';
import type { ApplyReport, StepResult, StepStatus } from '../../src/execute/types.js';
import type { PlanAction } from '../../src/plan/types.js';
import { formatApplySummary, formatStepLine, stepReasonText, stepRecord } from '../../src/report/apply-format.js';
import { idOf } from '../support/builders.js';
import { mixedReport } from './report-fixture.js';

const IMG = idOf('img');
const SHORT = IMG.slice(7, 19);
const CID = 'c'.repeat(64);
const DIGEST = `app@sha256:${'a'.repeat(64)}`;

const ACTIONS: Record<PlanAction['type'], PlanAction> = {
  'remove-container': { type: 'remove-container', imageId: IMG, containerId: CID, rule: 'stale-jobs' },
  untag: { type: 'untag', imageId: IMG, ref: 'registry.acme.io/ci/app:pr-12', rule: 'pr-builds' },
  delete: {
    type: 'delete',
    imageId: IMG,
    refs: ['app:1', DIGEST],
    parentId: null,
    rule: 'dangling',
    bytes: 123_456_789,
  },
};

const REASONS: Record<StepStatus, StepReason | null> = {
  done: null,
  skipped: {
    code: 'conflict',
    message: 'conflict: unable to delete (must be forced) - image is being used by stopped container 0123456789ab',
  },
  failed: { code: 'check-failed', message: 'connect ENOENT /var/run/docker.sock' },
  unknown: { code: 'outcome-unknown', message: 'socket hang up', check: 'connect ECONNREFUSED /var/run/docker.sock' },
};
const WORDS: Record<StepStatus, string> = {
  done: '',
  skipped:
    'changed under us: conflict: unable to delete (must be forced) - image is being used by stopped container 0123456789ab',
  failed: 'connect ENOENT /var/run/docker.sock',
  unknown:
    'unknown, will be re-checked by the next run: the request failed in transport (socket hang up) and the look afterwards failed too (connect ECONNREFUSED /var/run/docker.sock)',
};

function result(type: PlanAction['type'], status: StepStatus, extra: Partial<StepResult> = {}): StepResult {
  return {
    index: 3,
    action: ACTIONS[type],
    status,
    reason: REASONS[status],
    clear: status === 'done',
    at: '2026-11-27T12:01:00.000Z',
    ms: 41.6,
    ...extra,
  };
}

const HEADER: Pick<ApplyReport, 'engine' | 'policy'> = {
  engine: { key: '0123456789abcdef', name: 'build-01', host: 'unix:///var/run/docker.sock' },
  policy: { name: 'ci-runner', sha256: 'f'.repeat(64) },
};

describe('formatStepLine', () => {
  const cases: [PlanAction['type'], StepStatus, string][] = [
    ['remove-container', 'done', `done    remove container cccccccccccc (image ${SHORT}) [stale-jobs]`],
    [
      'remove-container',
      'skipped',
      `skipped remove container cccccccccccc (image ${SHORT}) [stale-jobs]: ${WORDS.skipped}`,
    ],
    [
      'remove-container',
      'failed',
      `failed  remove container cccccccccccc (image ${SHORT}) [stale-jobs]: ${WORDS.failed}`,
    ],
    ['untag', 'done', `done    untag registry.acme.io/ci/app:pr-12 (${SHORT}) [pr-builds]`],
    ['untag', 'skipped', `skipped untag registry.acme.io/ci/app:pr-12 (${SHORT}) [pr-builds]: ${WORDS.skipped}`],
    ['untag', 'failed', `failed  untag registry.acme.io/ci/app:pr-12 (${SHORT}) [pr-builds]: ${WORDS.failed}`],
    ['delete', 'done', `done    delete ${SHORT} app:1 [dangling]`],
    ['delete', 'skipped', `skipped delete ${SHORT} app:1 [dangling]: ${WORDS.skipped}`],
    ['delete', 'failed', `failed  delete ${SHORT} app:1 [dangling]: ${WORDS.failed}`],
    ['delete', 'unknown', `unknown delete ${SHORT} app:1 [dangling]: ${WORDS.unknown}`],
  ];
  it.each(cases)('%s %s', (type, status, line) => {
    expect(formatStepLine(result(type, status))).toBe(line);
  });

  it('a delete of an image without references shows the ID alone', () => {
    const s = result('delete', 'done', { action: { ...ACTIONS.delete, refs: [] } });
    expect(formatStepLine(s)).toBe(`done    delete ${SHORT} [dangling]`);
  });

  it('a done step with a confirmation says what was confirmed', () => {
    const s = result('delete', 'done', {
      reason: { code: 'confirmed-after-transport-error', message: 'socket hang up' },
    });
    expect(formatStepLine(s)).toBe(
      `done    delete ${SHORT} app:1 [dangling]: image gone after a transport error (socket hang up)`,
    );
  });

  it('is one line, with the status column aligned', () => {
    for (const [type, status] of cases) {
      const line = formatStepLine(result(type, status));
      expect(line).not.toContain('\n');
      expect(line[7]).toBe(' ');
      expect(line.slice(0, 7).trim()).toBe(status);
    }
  });
});

describe('stepReasonText: the words of every code', () => {
  const OTHER = idOf('other');
  const O = OTHER.slice(7, 19);
  const cases: [StepReason, PlanAction['type'], string][] = [
    [{ code: 'container-gone' }, 'remove-container', 'container already gone'],
    [{ code: 'container-running', state: 'restarting' }, 'remove-container', 'container is restarting now'],
    [{ code: 'container-image-changed' }, 'remove-container', 'container no longer uses the image'],
    [
      { code: 'image-in-use', container: { id: CID, name: 'web', state: 'running' } },
      'delete',
      'container web (running) uses the image now',
    ],
    [
      { code: 'image-in-use', container: { id: CID, name: null, state: 'created' } },
      'delete',
      'container cccccccccccc (created) uses the image now',
    ],
    [{ code: 'reference-gone' }, 'untag', 'reference already gone'],
    [{ code: 'reference-moved', imageId: OTHER }, 'untag', `reference now points to image ${O} (moved since planning)`],
    [{ code: 'reference-changed' }, 'untag', 'reference changed while checking it'],
    [{ code: 'image-gone' }, 'delete', 'image already gone'],
    [
      { code: 'unplanned-references', refs: ['a:1', 'b:2'] },
      'delete',
      'image has references the plan did not name: a:1, b:2',
    ],
    [
      { code: 'references-lost', refs: ['app:1'] },
      'delete',
      'app:1 no longer on the image (moved or removed since planning)',
    ],
    [{ code: 'new-child', child: OTHER }, 'delete', `image ${O} now depends on it as a parent`],
    [{ code: 'left-for-delete' }, 'untag', 'left for the delete by ID: it is the last reference now'],
    [
      { code: 'last-reference' },
      'untag',
      "it is the image's last reference now (others moved or were removed since planning); untagging it would delete the image",
    ],
    [{ code: 'conflict', message: 'conflict: in use' }, 'delete', 'changed under us: conflict: in use'],
    [
      { code: 'engine-error', message: 'HTTP 500: driver failed', transport: false },
      'delete',
      'HTTP 500: driver failed',
    ],
    [{ code: 'check-failed', message: 'connect ENOENT' }, 'untag', 'connect ENOENT'],
    [
      { code: 'not-found-but-present', message: 'No such image' },
      'delete',
      'the engine said not found, yet it is still there: No such image',
    ],
    [
      { code: 'removed-with', imageId: OTHER },
      'delete',
      `the engine removed it with ${O} (it prunes untagged parents)`,
    ],
    [
      { code: 'confirmed-after-transport-error', message: 'socket hang up' },
      'untag',
      'reference gone after a transport error (socket hang up)',
    ],
    [
      { code: 'confirmed-after-transport-error', message: 'socket hang up' },
      'remove-container',
      'container gone after a transport error (socket hang up)',
    ],
    [
      {
        code: 'waits-for',
        step: 2,
        on: { type: 'delete', imageId: OTHER },
        status: 'skipped',
        cause: {
          code: 'waits-for',
          step: 1,
          on: { type: 'untag', imageId: OTHER, ref: 'x:1' },
          status: 'failed',
          cause: { code: 'engine-error', message: 'socket hang up', transport: true },
        },
      },
      'delete',
      `waits for "delete ${O}", which was skipped: waits for "untag x:1", which was failed: socket hang up`,
    ],
  ];
  it.each(cases)('%j', (reason, type, words) => {
    expect(stepReasonText(reason, ACTIONS[type])).toBe(words);
  });
});

describe('stepRecord', () => {
  const common = {
    time: '2026-11-27T12:01:00.000Z',
    engine: '0123456789abcdef',
    engineName: 'build-01',
    policy: 'ci-runner',
    step: 3,
    imageId: IMG,
    ms: 42,
  };

  it.each(['done', 'skipped', 'failed'] as const)('remove-container %s', (status) => {
    expect(stepRecord(result('remove-container', status), HEADER)).toEqual({
      ...common,
      type: 'remove-container',
      containerId: CID,
      rule: 'stale-jobs',
      outcome: status,
      reason: REASONS[status],
      message: WORDS[status],
    });
  });

  it.each(['done', 'skipped', 'failed'] as const)('untag %s', (status) => {
    expect(stepRecord(result('untag', status), HEADER)).toEqual({
      ...common,
      type: 'untag',
      ref: 'registry.acme.io/ci/app:pr-12',
      rule: 'pr-builds',
      outcome: status,
      reason: REASONS[status],
      message: WORDS[status],
    });
  });

  it.each(['done', 'skipped', 'failed'] as const)('delete %s', (status) => {
    expect(stepRecord(result('delete', status), HEADER)).toEqual({
      ...common,
      type: 'delete',
      refs: ['app:1', DIGEST],
      bytes: 123_456_789,
      rule: 'dangling',
      outcome: status,
      reason: REASONS[status],
      message: WORDS[status],
    });
  });

  it('a delete without refs or bytes (no estimate) still has both fields', () => {
    const s = result('delete', 'done', { action: { type: 'delete', imageId: IMG, rule: 'disk' } });
    expect(stepRecord(s, HEADER)).toMatchObject({ refs: [], bytes: null, rule: 'disk' });
  });

  it('an unnamed policy is null, and the record survives JSON', () => {
    const rec = stepRecord(result('untag', 'failed'), { ...HEADER, policy: { name: null, sha256: 'f'.repeat(64) } });
    expect(rec.policy).toBeNull();
    expect(JSON.parse(JSON.stringify(rec))).toEqual(rec);
  });
});

describe('a whole report', () => {
  it('one line and one record per step, in plan order, matching the summary', async () => {
    const report = await mixedReport();
    const lines = report.steps.map(formatStepLine);
    const records = report.steps.map((s) => stepRecord(s, report));
    expect(records.map((r) => r.step)).toEqual(report.steps.map((_, i) => i));
    for (const status of ['done', 'skipped', 'failed'] as const) {
      expect(lines.filter((l) => l.startsWith(`${status} `))).toHaveLength(report.summary[status]);
      expect(records.filter((r) => r.outcome === status)).toHaveLength(report.summary[status]);
    }
    expect(lines.find((l) => l.startsWith('failed'))).toMatch(
      /^failed {2}delete [0-9a-f]{12} kid:1 \[all\]: socket hang up$/,
    );
    expect(lines.find((l) => l.startsWith('skipped'))).toMatch(
      /^skipped delete [0-9a-f]{12} app:1 \[all\]: waits for "delete [0-9a-f]{12}", which was failed: socket hang up$/,
    );
    for (const r of records)
      expect(r).toMatchObject({ engine: report.engine.key, engineName: 'test-host', policy: 'nightly' });
  });

  it('the summary line', async () => {
    const report = await mixedReport();
    expect(formatApplySummary(report)).toMatch(
      /^Applied on test-host: deleted 2 images \(est\. 350 MB, actual 350 MB\), untagged 3 references, removed 1 container; 1 skipped, 1 failed; \d+\.\d s\.$/,
    );
    const blind = await mixedReport({ layers: false });
    expect(blind.summary).toMatchObject({ bytesEstimated: null, estimate: 'unavailable' });
    expect(formatApplySummary(blind)).toContain('deleted 2 images (est. unknown, actual 350 MB)');
  });

  const withSummary = (summary: ApplyReport['summary']): ApplyReport => ({
    ...HEADER,
    planCreatedAt: '2026-11-27T11:00:00.000Z',
    startedAt: '2026-11-27T12:00:00.000Z',
    finishedAt: '2026-11-27T12:00:01.500Z',
    steps: [],
    summary,
  });

  it('the summary line in the singular, without an engine measure', () => {
    const report = withSummary({
      steps: 3,
      done: 3,
      skipped: 0,
      failed: 0,
      unknown: 0,
      deleted: 1,
      untagged: 1,
      containersRemoved: 1,
      bytesEstimated: 1500,
      estimate: 'layers',
      bytesActual: null,
    });
    expect(formatApplySummary(report)).toBe(
      'Applied on build-01: deleted 1 image (est. 1.5 kB), untagged 1 reference, removed 1 container; 0 skipped, 0 failed; 1.5 s.',
    );
  });

  it('the summary line says when there is no estimate', () => {
    const report = withSummary({
      steps: 1,
      done: 1,
      skipped: 0,
      failed: 0,
      unknown: 0,
      deleted: 1,
      untagged: 0,
      containersRemoved: 0,
      bytesEstimated: null,
      estimate: 'unavailable',
      bytesActual: 1000,
    });
    expect(formatApplySummary(report)).toContain('deleted 1 image (est. unknown, actual 1.0 kB)');
    const none = withSummary({
      steps: 1,
      done: 1,
      skipped: 0,
      failed: 0,
      unknown: 0,
      deleted: 0,
      untagged: 1,
      containersRemoved: 0,
      bytesEstimated: null,
      estimate: 'unavailable',
      bytesActual: null,
    });
    expect(formatApplySummary(none)).toContain('deleted 0 images (est. 0 B)');
  });
});
