import { layerReadProgress } from './status-line.js';
import { connectEngine } from '../engine/docker.js';
import type { Engine } from '../engine/engine.js';
import {
  checkTlsMaterial,
  connectionWarnings,
  targetFor,
  tlsFailure,
  type ConnectionSettings,
  type EngineTarget,
} from '../engine/host.js';
import { EngineUnavailable, InternalError, PolicyInvalid, UsageError } from '../errors.js';
import { readInventoryFile } from '../inventory/snapshot.js';
import type { Inventory } from '../inventory/types.js';
import { loadPolicyFile } from '../policy/load.js';
import { formatProblem } from '../policy/problems.js';
import type { Policy } from '../policy/types.js';
import { parseDuration } from '../policy/units.js';
import { formatWarning } from '../policy/warnings.js';
import { hostsOf } from './args.js';
import type { CliIo } from './io.js';
import { evaluatePolicy, type Evaluation } from '../plan/plan.js';
import { defaultStateDir } from '../state-dir.js';
import { snapshotUsage } from '../usage/fold.js';
import { planLive, snapshotLive } from '../live/plan.js';
import type { LiveOptions } from '../live/read.js';
import { attachRegistryAnswers, type RegistryCheck } from '../live/registry.js';
import { usesRegistry } from '../plan/restorable.js';

/** Loads the policy or fails (exit 2); its warnings go to stderr, unless quiet, and change nothing else. */
export async function requirePolicy(
  file: string | undefined,
  command: string,
  report?: { io: Pick<CliIo, 'stderr'>; quiet?: boolean },
): Promise<Policy> {
  if (!file) throw new UsageError(`${command}: name the policy with -p POLICY`);
  const result = await loadPolicyFile(file);
  if (!result.ok) throw new PolicyInvalid(result.problems.map(formatProblem).join('\n'));
  if (report && !report.quiet) for (const w of result.warnings) report.io.stderr.write(`${formatWarning(w)}\n`);
  return result.policy;
}

/** One engine's connection options: --host or --context (one engine's worth), --timeout and the --tls-* flags. */
export interface EngineOptions {
  host?: string;
  context?: string;
  timeout?: string;
  'tls-verify'?: boolean;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
}

export function timeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null || ms === 0) throw new UsageError(`--timeout: "${text}" is not a duration (examples: 30s, 2m)`);
  return ms;
}

/** The connection settings the command line adds to the engine address (host.ts). */
export function connectionOf(opts: EngineOptions): ConnectionSettings {
  const tls = { verify: opts['tls-verify'], ca: opts['tls-ca'], cert: opts['tls-cert'], key: opts['tls-key'] };
  return { context: opts.context, tls };
}

/** Where an engine is, as the command line and environment say, with its TLS material read (usage errors: exit 2). */
export function engineTarget(opts: EngineOptions, io: Pick<CliIo, 'env'>): EngineTarget {
  return targetFor(opts.host, io.env, connectionOf(opts));
}

/** One engine named on the command line: by --host URL or --context NAME (neither: the usual resolution). */
export interface EngineRef {
  host: string | undefined;
  context: string | undefined;
}

type EnginesValues = Omit<EngineOptions, 'host' | 'context'> & {
  host?: string[];
  context?: string[];
  inventory?: string;
};

/**
 * --host and --context, each given zero or more times: the engines to work on, the --host ones first, each in
 * command-line order. Every one is resolved now, so an unknown context or an unreadable TLS file fails the run
 * (exit 2) before any engine is touched, and one engine named twice (by address and by context) is caught.
 */
export function enginesOf(values: EnginesValues, io: Pick<CliIo, 'env'>): EngineRef[] {
  const hosts = values.host && values.host.length > 0 ? hostsOf(values.host) : [];
  const contexts = values.context ?? [];
  if (new Set(contexts).size !== contexts.length) throw new UsageError('--context: the same context is named twice');
  const refs: EngineRef[] = [
    ...hosts.map((host) => ({ host, context: undefined })),
    ...contexts.map((context) => ({ host: undefined, context })),
  ];
  // None named: DOCKER_HOST, the current context or the local socket, resolved (and reported) when connecting.
  if (refs.length === 0) return [{ host: undefined, context: undefined }];
  if (values.inventory) {
    throw new UsageError(
      `--inventory and ${hosts.length > 0 ? '--host' : '--context'} exclude each other: a saved inventory is evaluated without an engine`,
    );
  }
  const seen = new Map<string, string>();
  const targets = refs.map((ref) => engineTarget({ ...values, ...ref }, io));
  targets.forEach((t, i) => {
    const name = refName(refs[i]!) ?? t.host;
    const before = seen.get(t.host);
    if (before !== undefined)
      throw new UsageError(`${before} and ${name} are the same engine (${t.host}): name it once`);
    seen.set(t.host, name);
  });
  const tlsFlags = ['tls-verify', 'tls-ca', 'tls-cert', 'tls-key'] as const;
  const flag = tlsFlags.find((f) => values[f] !== undefined && values[f] !== false);
  if (flag && !targets.some((t) => t.host.startsWith('tcp://'))) {
    throw new UsageError(
      `--${flag}: TLS is for tcp:// engines, and ${targets.map((t) => t.host).join(', ')} ${targets.length > 1 ? 'are' : 'is'} not one`,
    );
  }
  return refs;
}

/** How an engine is named in messages before it is reached: as given on the command line. */
export function refName(ref: EngineRef): string | undefined {
  return ref.host ?? (ref.context === undefined ? undefined : `context "${ref.context}"`);
}

/** The engine's address for reports and metrics, even when it could not be reached. */
export function engineAddress(opts: EngineOptions, io: Pick<CliIo, 'env'>): string {
  try {
    return engineTarget(opts, io).host;
  } catch {
    return opts.host ?? (opts.context ? `context "${opts.context}"` : (io.env.DOCKER_HOST ?? 'the default engine'));
  }
}

/**
 * Connects to one engine. Before connecting: checks the TLS material loads and warns about plain TCP off this
 * machine. After a failure: says in one line when TLS was the reason.
 */
export async function openEngine(opts: EngineOptions, io: CliIo): Promise<Engine> {
  const target = engineTarget(opts, io);
  checkTlsMaterial(target);
  for (const warning of connectionWarnings(target)) io.stderr.write(`imgsweep: warning: ${warning}\n`);
  let engine: Engine;
  try {
    engine = await connectEngine({
      host: opts.host,
      env: io.env,
      timeoutMs: timeoutMs(opts.timeout),
      connection: connectionOf(opts),
    });
  } catch (error) {
    const tls = tlsFailure(target, error);
    if (tls !== null) throw new EngineUnavailable(tls, { cause: error });
    throw error;
  }
  if (engine.host !== target.host) {
    // Never work on another engine than the one named: a --context or TLS setting lost on the way would do that.
    engine.close();
    throw new InternalError(
      `asked for ${target.host} but connected to ${engine.host}: the connection settings were not passed on`,
    );
  }
  return engine;
}

export interface InventoryOptions extends EngineOptions {
  inventory?: string;
  'state-dir'?: string;
  quiet?: boolean;
  'registry-check'?: string;
  'registry-timeout'?: string;
}

/**
 * --registry-check live (ask the registries now: the default with an engine), saved (the answers a saved
 * inventory carries: the default with --inventory) or off (ask none: an image with a digest is then not known to
 * be restorable); --registry-timeout bounds each request (default 10s).
 */
export function registryCheckOf(opts: InventoryOptions): { mode: 'live' | 'saved' | 'off'; timeoutMs?: number } {
  const text = opts['registry-check'] ?? (opts.inventory ? 'saved' : 'live');
  if (text !== 'live' && text !== 'saved' && text !== 'off')
    throw new UsageError(`--registry-check: expected live, saved or off, not ${JSON.stringify(text)}`);
  if (text === 'saved' && !opts.inventory)
    throw new UsageError(
      '--registry-check saved: the answers are those a saved inventory carries (give --inventory FILE)',
    );
  const t = opts['registry-timeout'];
  if (t === undefined) return { mode: text };
  const ms = parseDuration(t);
  if (ms === null || ms <= 0) throw new UsageError(`--registry-timeout: "${t}" is not a duration (examples: 5s, 1m)`);
  return { mode: text, timeoutMs: ms };
}

/** What reading a live engine needs from the command line. */
export function liveOptions(opts: InventoryOptions, io: CliIo, now: number): LiveOptions {
  return {
    stateDir: opts['state-dir'] ?? defaultStateDir(io.env),
    now,
    warn: (m) => io.stderr.write(`imgsweep: warning: ${m}\n`),
    ...(io.status && !opts.quiet ? { layerProgress: layerReadProgress(io.status) } : {}),
    registry: liveRegistryCheck(opts, io),
  };
}

/** Without an engine to ask, the registries reached over plain HTTP are the engine's default: loopback. */
export const DEFAULT_INSECURE = ['127.0.0.0/8'];

/** The registries are asked with the command's environment (DOCKER_CONFIG, HOME, PATH for credential helpers). */
export function liveRegistryCheck(opts: InventoryOptions, io: CliIo): RegistryCheck {
  const r = registryCheckOf(opts);
  return {
    mode: r.mode === 'off' ? 'off' : 'live',
    ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}),
    options: { env: io.env },
  };
}

/** The inventory to show or save: a saved snapshot, or the live engine's with every image's layers. */
export async function loadInventory(
  opts: InventoryOptions,
  io: CliIo,
  now: number,
  /** For a live engine: also ask registries what this policy's decision needs (restorable). */
  policy?: Policy,
): Promise<Inventory> {
  if (opts.inventory) {
    if (opts.host || opts.context) {
      throw new UsageError(
        `--inventory and ${opts.host ? '--host' : '--context'} exclude each other: a saved inventory is evaluated without an engine`,
      );
    }
    return readInventoryFile(opts.inventory);
  }
  const engine = await openEngine(opts, io);
  try {
    const { inventory, saved } = await snapshotLive(engine, liveOptions(opts, io, now), policy);
    await saved;
    return inventory;
  } finally {
    engine.close();
  }
}

/** Evaluates a policy against a saved inventory or the live engine. */
export async function evaluate(
  policy: Policy,
  opts: InventoryOptions,
  io: CliIo,
  now: number,
  trace = false,
): Promise<Evaluation> {
  if (opts.inventory) {
    const inventory = await loadInventory(opts, io, now);
    const input = { policy, inventory: { ...inventory, usage: snapshotUsage(inventory) }, now, trace };
    if (registryCheckOf(opts).mode !== 'saved' && usesRegistry(policy))
      await attachRegistryAnswers(DEFAULT_INSECURE, input, liveRegistryCheck(opts, io));
    return evaluatePolicy(input);
  }
  const engine = await openEngine(opts, io);
  try {
    const evaluation = await planLive(engine, policy, { ...liveOptions(opts, io, now), trace });
    await evaluation.saved;
    return evaluation;
  } finally {
    engine.close();
  }
}
