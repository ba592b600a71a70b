import { createWriteStream, type WriteStream } from 'node:fs';
import { connectEngine } from '../../engine/docker.js';
import type { Engine } from '../../engine/engine.js';
import { UsageError } from '../../errors.js';
import { admitPlan, applyPlan } from '../../execute/apply.js';
import { acquireLock } from '../../execute/lock.js';
import { defaultStateDir } from '../../execute/state-dir.js';
import type { ApplyReport } from '../../execute/types.js';
import { readPlanFile } from '../../plan/plan-file.js';
import type { Plan } from '../../plan/types.js';
import { parseDuration } from '../../policy/units.js';
import { formatApplySummary, formatStepLine, stepRecord } from '../../report/apply-format.js';
import { formatMetrics } from '../../report/metrics.js';
import { formatPlanText, summaryLine } from '../../report/plan-format.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { Progress, confirm } from '../confirm.js';
import { evaluateLive, requirePolicy, timeoutMs } from '../context.js';
import type { CliIo } from '../io.js';
import { writeFileAtomic } from '../output.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  policy: { type: 'string', short: 'p' },
  yes: { type: 'boolean', short: 'y' },
  'max-plan-age': { type: 'string' },
  concurrency: { type: 'string' },
  'audit-log': { type: 'string' },
  'metrics-file': { type: 'string' },
} as const;

function positiveInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new UsageError(`${name}: "${text}" is not a whole number from 1 to 64`);
  return Number(text);
}

export async function applyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('apply', args, OPTIONS);
  if (values.inventory) throw new UsageError('apply: --inventory cannot be applied; apply needs the live engine');
  if (positionals.length > 1 || (positionals.length === 1) === Boolean(values.policy)) {
    throw new UsageError('apply: give either -p POLICY (plan and execute) or one saved PLAN.json');
  }
  const maxAge = values['max-plan-age'] === undefined ? 3_600_000 : parseDuration(values['max-plan-age']);
  if (maxAge === null) throw new UsageError(`--max-plan-age: "${values['max-plan-age']}" is not a duration (examples: 30m, 1h)`);
  const concurrency = positiveInt(values.concurrency, '--concurrency', 4);
  const policy = values.policy ? await requirePolicy(values.policy, 'apply') : null;
  const saved = positionals[0] ? await readPlanFile(positionals[0]) : null;
  const fixedNow = values.now === undefined ? null : parseNow(values.now);
  const clock = () => fixedNow ?? Date.now();
  const interactive = Boolean(io.stdin.isTTY && io.stderr.isTTY);
  if (!values.yes && !interactive) throw new UsageError('apply: no terminal to confirm on; pass --yes to apply without confirmation');

  const engine = await connectEngine({ host: values.host, env: io.env, timeoutMs: timeoutMs(values.timeout) });
  const started = Date.now();
  let report: ApplyReport | null = null;
  let exitCode = 1;
  const identity = await engine.identity().catch((e: unknown) => {
    engine.close();
    throw e;
  });
  try {
    const lock = await acquireLock(values['state-dir'] ?? defaultStateDir(io.env), identity.key, `imgsweep apply ${args.join(' ')}`);
    try {
      const plan = saved ?? (await evaluateLive(engine, policy!, values, io, clock())).plan;
      admitPlan(plan, identity, clock(), saved ? maxAge : null);
      if (plan.actions.length === 0) {
        if (values.json) io.stdout.write(`${JSON.stringify({ summary: { steps: 0, done: 0, skipped: 0, failed: 0, deleted: 0, untagged: 0, containersRemoved: 0, bytesEstimated: 0, bytesActual: null }, engine: { key: identity.key, name: identity.name, host: identity.host } })}\n`);
        else if (!values.quiet) io.stdout.write(`Nothing to do on ${identity.name}. ${summaryLine(plan)}\n`);
        exitCode = 0;
        return exitCode;
      }
      if (!values.yes) {
        io.stderr.write(formatPlanText(plan));
        if (!(await confirm(io, `Apply these ${plan.actions.length} steps to ${identity.name}? [y/N] `))) {
          io.stderr.write('Cancelled; nothing changed.\n');
          exitCode = 1;
          return exitCode;
        }
      }
      report = await execute(plan, engine, io, { concurrency, clock, json: Boolean(values.json), quiet: Boolean(values.quiet), auditLog: values['audit-log'] });
      exitCode = report.summary.failed > 0 ? 1 : 0;
      return exitCode;
    } finally {
      await lock.release();
    }
  } catch (err) {
    exitCode = typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1;
    throw err;
  } finally {
    engine.close();
    if (values['metrics-file']) {
      const metrics = formatMetrics([{ engine: identity.name, success: exitCode === 0, finishedAt: Math.round(Date.now() / 1000), durationSeconds: (Date.now() - started) / 1000, report }]);
      await writeFileAtomic(values['metrics-file'], metrics);
    }
  }
}

interface ExecuteOptions {
  concurrency: number;
  clock: () => number;
  json: boolean;
  quiet: boolean;
  auditLog?: string;
}

async function execute(plan: Plan, engine: Engine, io: CliIo, o: ExecuteOptions): Promise<ApplyReport> {
  const audit: WriteStream | null = o.auditLog ? createWriteStream(o.auditLog, { flags: 'a', mode: 0o600 }) : null;
  const auditFailed = audit ? new Promise<Error>((resolve) => audit.once('error', resolve)) : null;
  const progress = new Progress(io.stderr, Boolean(io.stderr.isTTY) && !o.json && !o.quiet);
  const header = { engine: { key: plan.engine.key, name: plan.engine.name, host: plan.engine.host }, policy: { name: plan.policy.name, sha256: plan.policy.sha256 } };
  const report = await applyPlan(plan, engine, {
    concurrency: o.concurrency,
    clock: o.clock,
    onStep: (step, finished, total) => {
      const record = stepRecord(step, header);
      audit?.write(`${JSON.stringify(record)}\n`);
      progress.clear();
      if (o.json) io.stdout.write(`${JSON.stringify(record)}\n`);
      else if (step.status === 'failed') io.stderr.write(`${formatStepLine(step)}\n`);
      else if (!o.quiet) io.stdout.write(`${formatStepLine(step)}\n`);
      progress.update(finished, total);
    },
  });
  progress.clear();
  if (audit) {
    await new Promise<void>((resolve) => audit.end(resolve));
    const err = await Promise.race([auditFailed, Promise.resolve(null)]);
    if (err) io.stderr.write(`imgsweep: could not write the audit log ${o.auditLog}: ${err.message}\n`);
  }
  if (o.json) io.stdout.write(`${JSON.stringify({ summary: report.summary, engine: report.engine, startedAt: report.startedAt, finishedAt: report.finishedAt })}\n`);
  else if (!o.quiet || report.summary.failed > 0) io.stdout.write(`${formatApplySummary(report)}\n`);
  return report;
}
