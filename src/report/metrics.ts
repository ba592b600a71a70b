import type { ApplyReport } from '../execute/types.js';
import type { Plan } from '../plan/types.js';

export interface RunMetrics {
  /** The engine's address (unix:///var/run/docker.sock, tcp://host:2376): unique where names are not. */
  engine: string;
  success: boolean;
  /** Unix seconds when the run finished. */
  finishedAt: number;
  durationSeconds: number;
  report: ApplyReport | null;
  /** The plan the run carried out (its disk and build-cache figures are from when it was made). */
  plan?: Plan | null;
}

const goal = (m: RunMetrics, measure: 'usage' | 'image-bytes') =>
  m.plan?.disk?.goals.find((g) => g.measure === measure)?.before ?? null;

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const METRICS: [name: string, help: string, value: (m: RunMetrics) => number | null][] = [
  ['imgsweep_last_run_timestamp_seconds', 'When the last imgsweep apply finished (unix seconds).', (m) => m.finishedAt],
  [
    'imgsweep_last_run_success',
    '1 if the last apply ran every step without failure, else 0.',
    (m) => (m.success ? 1 : 0),
  ],
  ['imgsweep_last_run_duration_seconds', 'How long the last apply took.', (m) => m.durationSeconds],
  ['imgsweep_last_run_images_deleted', 'Images deleted by the last apply.', (m) => m.report?.summary.deleted ?? 0],
  [
    'imgsweep_last_run_references_untagged',
    'References untagged by the last apply.',
    (m) => m.report?.summary.untagged ?? 0,
  ],
  [
    'imgsweep_last_run_containers_removed',
    'Stopped containers removed by the last apply.',
    (m) => m.report?.summary.containersRemoved ?? 0,
  ],
  // No sample when the plan had no estimate: a 0 would read as "nothing reclaimed".
  [
    'imgsweep_last_run_bytes_reclaimed_estimated',
    'Estimated bytes reclaimed by the last apply.',
    (m) => (m.report ? m.report.summary.bytesEstimated : 0),
  ],
  [
    'imgsweep_last_run_bytes_reclaimed',
    'Bytes the engine reports freed by the last apply (its layer total before minus after).',
    (m) => m.report?.summary.bytesActual ?? null,
  ],
  [
    'imgsweep_last_run_steps_skipped',
    'Steps skipped by the last apply because the engine changed since planning.',
    (m) => m.report?.summary.skipped ?? 0,
  ],
  ['imgsweep_last_run_steps_failed', 'Steps that failed in the last apply.', (m) => m.report?.summary.failed ?? 0],
  [
    'imgsweep_last_run_steps_unknown',
    'Steps whose outcome the last apply could not learn (the engine stopped answering); the next run settles them.',
    (m) => m.report?.summary.unknown ?? 0,
  ],
  [
    'imgsweep_last_run_build_cache_records_removed',
    'Build-cache records the last apply removed.',
    (m) => m.report?.buildCache?.summary.removed ?? 0,
  ],
  [
    'imgsweep_last_run_build_cache_bytes_reclaimed',
    'Bytes the engine reports freed by the build-cache records the last apply removed (its SpaceReclaimed).',
    (m) => m.report?.buildCache?.summary.bytesReclaimed ?? 0,
  ],
  [
    'imgsweep_last_run_build_cache_bytes',
    'Size of the BuildKit build cache (every record) when the last apply planned; no sample without a buildCache section.',
    (m) => (m.plan?.buildCache?.status === 'evaluated' ? m.plan.buildCache.totalBytes : null),
  ],
  [
    'imgsweep_last_run_disk_image_bytes',
    'What maxImageBytes measured when the last apply planned: the images, and the build cache with a buildCache section.',
    (m) => goal(m, 'image-bytes'),
  ],
  [
    'imgsweep_last_run_disk_usage_ratio',
    "What maxUsage measured when the last apply planned: the used fraction of the engine's filesystem (0 to 1).",
    (m) => goal(m, 'usage'),
  ],
];

/** Prometheus text exposition (node_exporter textfile collector), one sample per metric and engine. */
export function formatMetrics(runs: RunMetrics[]): string {
  const lines: string[] = [];
  for (const [name, help, value] of METRICS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    // No sample rather than a misleading 0 where the engine gave no figure.
    for (const m of runs) {
      const v = value(m);
      if (v !== null) lines.push(`${name}{engine="${esc(m.engine)}"} ${v}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
