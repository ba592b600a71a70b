import type { Engine } from '../../engine/engine.js';
import { UsageError } from '../../errors.js';
import { admitPlan, applyPlan, compareWithCurrent, type Listing } from '../../execute/apply.js';
import { acquireLock } from '../../execute/lock.js';
import { defaultStateDir } from '../../state-dir.js';
import type { ApplyReport, ApplySummary } from '../../execute/types.js';
import { readPlanFile } from '../../execute/plan-file.js';
import type { Plan } from '../../plan/types.js';
import { isPlanSet, type PlanSet } from '../../plan/plan-set.js';
import { ENGINES_IN_PARALLEL, reportSkippedDisk, settleLimited } from '../several.js';
import type { EngineIdentity } from '../../inventory/types.js';
import type { Lock } from '../../execute/lock.js';
import { parseDuration } from '../../policy/units.js';
import { actionTarget, formatApplySummary, formatStepLine, stepRecord } from '../../report/apply-format.js';
import { cacheStepRecord, formatCacheStepLine } from '../../report/build-cache-text.js';
import { formatMetrics } from '../../report/metrics.js';
import { firstSeenText, formatPlanText, summaryLine } from '../../report/plan-format.js';
import { plural } from '../../report/table.js';
import { COMMON_OPTIONS, parseCommandArgs, parseNow } from '../args.js';
import { confirm } from '../confirm.js';
import { StepProgress } from '../status-line.js';
import { engineAddress, enginesOf, liveOptions, openEngine, requirePolicy, type EngineRef } from '../context.js';
import { planLive } from '../../live/plan.js';
import { AuditLog } from '../audit-log.js';
import { exitCodeOf, watchSignals, type Interrupt } from '../signals.js';
import { LineBatch, type CliIo } from '../io.js';
import { writeFileAtomic } from '../output.js';

/** The options it takes (the help lists the common ones among them). */
export const OPTIONS = {
  ...COMMON_OPTIONS,
  policy: { type: 'string', short: 'p' },
  yes: { type: 'boolean', short: 'y' },
  'max-plan-age': { type: 'string' },
  concurrency: { type: 'string' },
  'audit-log': { type: 'string' },
  'metrics-file': { type: 'string' },
  'json-lines': { type: 'boolean' },
} as const;

function positiveInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64)
    throw new UsageError(`${name}: "${text}" is not a whole number from 1 to 64`);
  return Number(text);
}

/** One engine's part of an apply run. */
interface Target {
  ref: EngineRef;
  saved: Plan | null;
}

interface Prepared {
  engine: Engine;
  identity: EngineIdentity;
  lock: Lock | null;
  plan: Plan | null;
  /** The listing a plan made here came from (a saved plan has none). */
  listing?: Listing;
  /** The usage record being saved (never rejects): why it failed (already warned of), or null. */
  saved?: Promise<string | null>;
  /** A saved plan's steps its policy no longer plans (apply PLAN.json -p POLICY). */
  notCurrent?: Set<number>;
}

interface Outcome {
  name: string;
  /** The engine, once it answered. */
  identity?: EngineIdentity;
  plan?: Plan | null;
  exitCode: number;
  report: ApplyReport | null;
  error: unknown;
  seconds: number;
}

function exitOf(err: unknown): number {
  return typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1;
}

function targetsOf(refs: EngineRef[], saved: Plan | PlanSet | null): Target[] {
  if (saved === null) return refs.map((ref) => ({ ref, saved: null }));
  if (!isPlanSet(saved)) {
    if (refs.length > 1)
      throw new UsageError('apply: a saved plan belongs to one engine; give at most one --host or --context');
    return [{ ref: refs[0]!, saved }];
  }
  // A plan set goes to the engines it was made for, unless --host/--context name them again, in order (each plan's
  // engine key is checked later). One engine named for a set of several is an error, not silently ignored.
  const named = refs.some((r) => r.host !== undefined || r.context !== undefined);
  if (named && refs.length !== saved.plans.length)
    throw new UsageError(
      `apply: the plan set holds ${saved.plans.length} plans but ${refs.length === 1 ? '1 engine was' : `${refs.length} engines were`} named`,
    );
  return saved.plans.map((plan, i) => ({ ref: named ? refs[i]! : fromPlan(plan), saved: plan }));
}

/** How a plan of a set reaches its engine: by the context it was made through (its TLS files), else its address. */
function fromPlan(plan: Plan): EngineRef {
  return plan.engine.context === undefined
    ? { host: plan.engine.host, context: undefined }
    : { host: undefined, context: plan.engine.context };
}

/** What apply --json reports, gathered as the run goes. */
interface RunRecord {
  outcomes: Outcome[];
  /** Errors of the run as a whole (a file it could not write), not of one engine. */
  errors: string[];
  signal: string | null;
}

export async function applyCommand(args: string[], io: CliIo): Promise<number> {
  if (!parseCommandArgs('apply', args, OPTIONS).values.json) return applyRun(args, io, null);
  // --json: one document on stdout however the run ends, bad input and refusals included.
  const record: RunRecord = { outcomes: [], errors: [], signal: null };
  try {
    const code = await applyRun(args, io, record);
    writeJsonReport(io, code, record);
    return code;
  } catch (err) {
    // An engine's own error is in its entry already; another error ends the run as a whole.
    if (!record.outcomes.some((o) => o.error === err)) record.errors.push(message(err));
    writeJsonReport(io, exitOf(err), record);
    throw err;
  }
}

async function applyRun(args: string[], io: CliIo, record: RunRecord | null): Promise<number> {
  const { values, positionals } = parseCommandArgs('apply', args, OPTIONS);
  if (values.inventory) throw new UsageError('apply: --inventory cannot be applied; apply needs the live engine');
  if (positionals.length > 1 || (positionals.length === 0 && !values.policy)) {
    throw new UsageError(
      "apply: give -p POLICY (plan and execute), one saved PLAN.json, or both (run only the saved plan's steps the policy still plans)",
    );
  }
  const maxAge = values['max-plan-age'] === undefined ? 3_600_000 : parseDuration(values['max-plan-age']);
  if (maxAge === null)
    throw new UsageError(`--max-plan-age: "${values['max-plan-age']}" is not a duration (examples: 30m, 1h)`);
  const concurrency = positiveInt(values.concurrency, '--concurrency', 4);
  const interactive = Boolean(io.stdin.isTTY && io.stderr.isTTY);
  const policy = values.policy ? await requirePolicy(values.policy, 'apply', { io, quiet: values.quiet }) : null;
  const saved = positionals[0] ? await readPlanFile(positionals[0]) : null;
  const fixedNow = values.now === undefined ? null : parseNow(values.now);
  if (!values.yes && !interactive)
    throw new UsageError('apply: no terminal to confirm on; pass --yes to apply without confirmation');
  const targets = targetsOf(enginesOf(values, io), saved);
  const clock = () => fixedNow ?? Date.now();
  const many = targets.length > 1;
  const stateDir = values['state-dir'] ?? defaultStateDir(io.env);
  const started = Date.now();
  if (values.json && values['json-lines'])
    throw new UsageError('apply: --json (one report at the end) and --json-lines (a line per step) exclude each other');
  const interrupt = watchSignals((line) => io.stderr.write(line));
  // Every engine's result, for the exit code, the metrics and the --json report.
  const outcomes: Outcome[] = record?.outcomes ?? [];
  try {
    return await applyTargets();
  } finally {
    if (record) record.signal = interrupt.caught;
    interrupt.dispose();
  }

  /** A saved plan run with its policy: says how the two differ, and returns the saved steps not planned now. */
  function checkAgainstPolicy(saved: Plan, current: Plan, prefix: string): Set<number> {
    const file = values.policy!;
    if (saved.policy.sha256 !== current.policy.sha256)
      io.stderr.write(
        `${prefix}imgsweep: ${file} has changed since the plan was made (sha256 ${current.policy.sha256.slice(0, 12)}, the plan's policy ${saved.policy.sha256.slice(0, 12)}); only the steps both plans hold will run\n`,
      );
    const { notCurrent, unreviewed } = compareWithCurrent(saved, current);
    if (notCurrent.size > 0)
      io.stderr.write(
        `${prefix}imgsweep: ${plural(notCurrent.size, "of the saved plan's steps is", "of the saved plan's steps are")} not in the policy's current plan; skipped\n`,
      );
    if (unreviewed > 0)
      io.stderr.write(
        `${prefix}imgsweep: ${plural(unreviewed, "step of the policy's current plan is", "steps of the policy's current plan are")} not in the saved plan; not run (make a new plan to review them)\n`,
      );
    return notCurrent;
  }

  async function applyTargets(): Promise<number> {
    // Phase 1, per engine: connect, lock, plan (or check the saved plan). Engines are independent.
    const prepared: Prepared[] = [];
    const byTarget = new Map<Target, Prepared>();
    const prepare = async (t: Target): Promise<Prepared> => {
      const engine = await openEngine({ ...values, ...t.ref }, io);
      const p: Prepared = { engine, identity: await engine.identity(), lock: null, plan: null };
      prepared.push(p);
      byTarget.set(t, p);
      p.lock = await acquireLock(stateDir, p.identity.key, `imgsweep apply ${args.join(' ')}`);
      if (t.saved) admitPlan(t.saved, p.identity, clock(), maxAge);
      if (policy) {
        const live = await planLive(engine, policy, liveOptions({ ...values, ...t.ref }, io, clock()));
        admitPlan(live.plan, p.identity, clock(), null);
        p.saved = live.saved;
        // Unattended, execution follows at once: the plan's listing may stand for the re-list before it.
        if (values.yes)
          p.listing = {
            images: live.inventory.images,
            containers: live.inventory.containers,
            at: live.listedAt,
            diskUsage: live.diskUsage,
          };
        p.plan = live.plan;
        if (t.saved) {
          p.plan = t.saved;
          p.notCurrent = checkAgainstPolicy(t.saved, live.plan, many ? `[${label(p.identity)}] ` : '');
        }
      } else p.plan = t.saved;
      return p;
    };
    const ready = await settleLimited(targets, ENGINES_IN_PARALLEL, prepare);
    // Files the run writes besides the engine's state: each failure is said at once and fails the run (exit 1).
    let writeFailed = false;
    const writeFailure = (text: string) => {
      writeFailed = true;
      record?.errors.push(text);
      io.stderr.write(`imgsweep: ${text}\n`);
    };
    try {
      ready.forEach((r, i) => {
        const p = byTarget.get(targets[i]!);
        if (r.status === 'rejected')
          outcomes.push({
            name: p?.identity.host ?? engineAddress({ ...values, ...targets[i]!.ref }, io),
            identity: p?.identity,
            plan: p?.plan ?? targets[i]!.saved,
            exitCode: exitOf(r.reason),
            report: null,
            error: r.reason,
            seconds: 0,
          });
      });
      const runnable = ready.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const hasWork = (plan: Plan) => plan.actions.length > 0 || (plan.buildCache?.remove.length ?? 0) > 0;
      for (const p of runnable.filter((x) => !hasWork(x.plan!))) {
        outcomes.push({
          name: p.identity.host,
          identity: p.identity,
          plan: p.plan,
          exitCode: 0,
          report: null,
          error: null,
          seconds: 0,
        });
        if (values['json-lines'])
          io.stdout.write(
            `${JSON.stringify({ summary: EMPTY_SUMMARY, engine: { key: p.identity.key, name: p.identity.name, host: p.identity.host } })}\n`,
          );
        else if (!values.quiet && !values.json) {
          const note = firstSeenText(p.plan!);
          io.stdout.write(`Nothing to do on ${label(p.identity)}. ${summaryLine(p.plan!)}\n${note ? `${note}\n` : ''}`);
        }
      }
      const work = runnable.filter((x) => hasWork(x.plan!));
      if (work.length > 0 && !values.yes) {
        for (const p of work) io.stderr.write(formatPlanText(p.plan!));
        const steps = work.reduce((n, p) => n + p.plan!.actions.length, 0);
        const where = work.map((p) => label(p.identity)).join(', ');
        if (!(await confirm(io, `Apply these ${steps} steps to ${where}? [y/N] `, interrupt.signal))) {
          io.stderr.write('Cancelled; nothing changed.\n');
          for (const p of work)
            outcomes.push({
              name: p.identity.host,
              identity: p.identity,
              plan: p.plan,
              exitCode: 1,
              report: null,
              error: null,
              seconds: 0,
            });
          return interrupt.caught ? exitCodeOf(interrupt.caught) : worst(outcomes);
        }
      }
      // Phase 2: execute, engines in parallel, each with its own bounded concurrency.
      const progress = io.status && !values.quiet ? new StepProgress(io.status) : null;
      for (const p of work) progress?.add(p.plan!.actions.length);
      const ran = await settleLimited(work, ENGINES_IN_PARALLEL, (p) =>
        execute(p.plan!, p.engine, io, {
          listing: p.listing,
          concurrency,
          clock,
          output: values.json ? 'json' : values['json-lines'] ? 'json-lines' : 'text',
          quiet: Boolean(values.quiet),
          auditLog: values['audit-log'],
          prefix: many ? `[${label(p.identity)}] ` : '',
          interrupt,
          notCurrent: p.notCurrent,
          progress,
        }),
      ).finally(() => progress?.end());
      ran.forEach((r, i) => {
        const name = work[i]!.identity.host;
        const about = { identity: work[i]!.identity, plan: work[i]!.plan };
        if (r.status === 'fulfilled') {
          const { report, auditFailed } = r.value;
          // A run stopped by a signal did not finish its plan: not a success, whatever ran.
          outcomes.push({
            name,
            ...about,
            exitCode:
              report.summary.failed + report.summary.unknown + (report.buildCache?.summary.failed ?? 0) > 0 ||
              auditFailed ||
              interrupt.caught !== null
                ? 1
                : 0,
            report,
            error: null,
            seconds: (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000,
          });
        } else outcomes.push({ name, ...about, exitCode: exitOf(r.reason), report: null, error: r.reason, seconds: 0 });
      });
      // A disk budget that could not be kept fails its engine's run, whatever else went well.
      for (const p of runnable) {
        if (reportSkippedDisk([p.plan!], io, many) === 0) continue;
        const o = outcomes.find((x) => x.name === p.identity.host);
        if (o) o.exitCode = Math.max(o.exitCode, 1);
      }
    } finally {
      for (const p of prepared) {
        // Already warned of: it fails the run all the same, since last-used tracking stops working.
        if ((await p.saved) != null) writeFailed = true;
        await p.lock?.release().catch((err: unknown) => writeFailure(`could not release the lock: ${message(err)}`));
        p.engine.close();
      }
      if (values['metrics-file']) {
        const finishedAt = Math.round(Date.now() / 1000);
        const runs = outcomes.map((o) => ({
          engine: o.name,
          success: o.exitCode === 0,
          finishedAt,
          durationSeconds: o.seconds || (Date.now() - started) / 1000,
          report: o.report,
          plan: o.plan ?? null,
        }));
        await writeFileAtomic(values['metrics-file'], formatMetrics(runs)).catch((err: unknown) =>
          writeFailure(message(err)),
        );
      }
    }
    const failures = outcomes.filter((o) => o.error);
    // One engine: its error is the run's error, reported as every command reports one.
    if (!many && failures.length === 1 && !writeFailed) throw failures[0]!.error;
    for (const o of failures) io.stderr.write(`imgsweep: ${many ? `[${o.name}] ` : ''}${message(o.error)}\n`);
    if (interrupt.caught) return exitCodeOf(interrupt.caught);
    return Math.max(worst(outcomes), writeFailed ? 1 : 0);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** How an engine is named to a person: its name, and where it is (names repeat across daemons of one host). */
function label(identity: EngineIdentity): string {
  return `${identity.name} (${identity.host})`;
}

/** The run's exit code: the worst of its engines' (3 refused > 2 bad input > 1 failed > 0). */
function worst(outcomes: Outcome[]): number {
  return outcomes.reduce((w, o) => Math.max(w, o.exitCode), 0);
}

/**
 * apply --json: one document on stdout, whatever happened (refused, failed, interrupted): the run's exit code,
 * its totals, and per engine its summary and every step as the audit log records it.
 */
function writeJsonReport(io: CliIo, exitCode: number, { outcomes, errors, signal }: RunRecord): void {
  const engines = outcomes.map((o) => {
    const plan = o.plan ?? null;
    const report = o.report;
    return {
      engine: o.identity
        ? { key: o.identity.key, name: o.identity.name, host: o.identity.host }
        : { key: null, name: null, host: o.name },
      policy: report?.policy ?? (plan ? { name: plan.policy.name, sha256: plan.policy.sha256 } : null),
      planCreatedAt: plan?.createdAt ?? null,
      plannedSteps: plan?.actions.length ?? null,
      exitCode: o.exitCode,
      error: o.error ? message(o.error) : null,
      startedAt: report?.startedAt ?? null,
      finishedAt: report?.finishedAt ?? null,
      summary: report?.summary ?? EMPTY_SUMMARY,
      steps: report ? report.steps.map((s) => stepRecord(s, report)) : [],
      ...(report?.buildCache
        ? {
            buildCache: {
              summary: report.buildCache.summary,
              steps: report.buildCache.steps.map((s) => cacheStepRecord(s, report)),
            },
          }
        : {}),
    };
  });
  const doc = {
    kind: 'imgsweep-apply-report',
    version: 1,
    ok: exitCode === 0,
    exitCode,
    ...(signal ? { signal } : {}),
    summary: totalOf(engines.map((e) => e.summary)),
    engines,
    errors,
  };
  io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** The run's totals over its engines; an estimate or a measure any engine lacks is lacking in the total. */
function totalOf(summaries: ApplySummary[]): ApplySummary {
  const sum = (pick: (s: ApplySummary) => number) => summaries.reduce((n, s) => n + pick(s), 0);
  const actual = summaries.filter((s) => s.bytesActual !== null);
  return {
    steps: sum((s) => s.steps),
    done: sum((s) => s.done),
    skipped: sum((s) => s.skipped),
    failed: sum((s) => s.failed),
    unknown: sum((s) => s.unknown),
    deleted: sum((s) => s.deleted),
    untagged: sum((s) => s.untagged),
    containersRemoved: sum((s) => s.containersRemoved),
    bytesEstimated: summaries.some((s) => s.bytesEstimated === null) ? null : sum((s) => s.bytesEstimated ?? 0),
    estimate: summaries.some((s) => s.estimate === 'unavailable') ? 'unavailable' : 'layers',
    bytesActual: actual.length === 0 ? null : actual.reduce((n, s) => n + s.bytesActual!, 0),
  };
}

const EMPTY_SUMMARY: ApplySummary = {
  steps: 0,
  done: 0,
  skipped: 0,
  failed: 0,
  unknown: 0,
  deleted: 0,
  untagged: 0,
  containersRemoved: 0,
  bytesEstimated: 0,
  estimate: 'layers',
  bytesActual: null,
};

interface ExecuteOptions {
  /** Put before each line when several engines share the output. */
  prefix: string;
  listing: Listing | undefined;
  concurrency: number;
  clock: () => number;
  /** text: a line per step; json-lines: a JSON line per step and a summary line; json: nothing (one report at the end). */
  output: 'text' | 'json' | 'json-lines';
  quiet: boolean;
  auditLog?: string;
  interrupt: Interrupt;
  notCurrent: Set<number> | undefined;
  /** The live progress line all engines share (on a terminal, without --quiet). */
  progress: StepProgress | null;
}

async function execute(
  plan: Plan,
  engine: Engine,
  io: CliIo,
  o: ExecuteOptions,
): Promise<{ report: ApplyReport; auditFailed: boolean }> {
  const audit = o.auditLog ? await AuditLog.open(o.auditLog) : null;
  const header = {
    engine: { key: plan.engine.key, name: plan.engine.name, host: plan.engine.host },
    policy: { name: plan.policy.name, sha256: plan.policy.sha256 },
  };
  // With a progress line, each line goes out at once (the line is redrawn under it).
  const lines = o.progress ? null : new LineBatch(io.stdout);
  const say = (line: string) => (lines ? lines.write(line) : io.stdout.write(line));
  const report = await applyPlan(plan, engine, {
    listing: o.listing,
    notCurrent: o.notCurrent,
    concurrency: o.concurrency,
    clock: o.clock,
    stop: () => {
      if (audit?.failure) return { by: 'audit-log', message: audit.failure };
      return o.interrupt.caught ? { by: 'signal', signal: o.interrupt.caught } : null;
    },
    onStart: (action, index) => o.progress?.begin(`${o.prefix}${index}`, `${o.prefix}${actionTarget(action)}`),
    onCacheStep: (step) => {
      const record = cacheStepRecord(step, header);
      audit?.append(`${JSON.stringify(record)}\n`);
      if (o.output === 'json-lines') say(`${JSON.stringify(record)}\n`);
      else if (step.status === 'failed') {
        lines?.flush();
        io.stderr.write(`${o.prefix}${formatCacheStepLine(step)}\n`);
      } else if (o.output === 'text' && !o.quiet) say(`${o.prefix}${formatCacheStepLine(step)}\n`);
    },
    onStep: (step) => {
      const record = stepRecord(step, header);
      audit?.append(`${JSON.stringify(record)}\n`);
      o.progress?.done(
        `${o.prefix}${step.index}`,
        step.status === 'done' && step.action.type === 'delete' ? step.action.bytes : undefined,
      );
      if (o.output === 'json-lines') say(`${JSON.stringify(record)}\n`);
      else if (step.status === 'failed' || step.status === 'unknown') {
        // Both streams often go to one log: the lines before a failure come before it.
        lines?.flush();
        io.stderr.write(`${o.prefix}${formatStepLine(step)}\n`);
      } else if (o.output === 'text' && !o.quiet) say(`${o.prefix}${formatStepLine(step)}\n`);
    },
  });
  lines?.flush();
  const auditFailure = audit ? await audit.close() : null;
  if (auditFailure !== null)
    io.stderr.write(
      `imgsweep: could not write the audit log ${o.auditLog}: ${auditFailure}; no step was started after that\n`,
    );
  if (o.output === 'json-lines')
    io.stdout.write(
      `${JSON.stringify({ summary: report.summary, engine: report.engine, startedAt: report.startedAt, finishedAt: report.finishedAt })}\n`,
    );
  else if (o.output === 'text' && (!o.quiet || report.summary.failed + report.summary.unknown > 0))
    io.stdout.write(`${o.prefix}${formatApplySummary(report)}\n`);
  return { report, auditFailed: auditFailure !== null };
}
