/** Whether registries still serve images' digests: the answer that tells a restorable image from a last copy. */
import { dockerConfigDir } from '../engine/contexts.js';
import { parseReference } from '../inventory/reference.js';
import { mapLimit } from '../map-limit.js';
import { registryCredentials } from './credentials.js';
import { closeTransport, registryTransport } from './http.js';
import { digestTarget, type DigestTarget } from './names.js';
import { RegistrySession, type Outcome } from './session.js';

export type DigestStatus = 'present' | 'absent' | 'unknown';

export interface DigestAnswer {
  status: DigestStatus;
  /** The registry host asked, as the Docker CLI names it (docker.io for Docker Hub). */
  registry: string;
  /** unknown: why (unreachable, refused credentials, timed out after 10 s, HTTP 500 ...); never a credential. */
  reason: string | null;
  /** ISO time the answer was had. */
  at: string;
}

export interface RegistryCheckOptions {
  /** Folder of config.json (default: $DOCKER_CONFIG, else ~/.docker). */
  dockerConfig?: string;
  /** Folder of per-registry CA files, <host>/ca.crt (default /etc/docker/certs.d). */
  certsDir?: string;
  /** Registries that may use plain HTTP (the daemon's insecure-registries: host[:port] entries, or CIDRs). */
  insecureRegistries?: string[];
  /** Per request, default 10_000. */
  timeoutMs?: number;
  /** Default 4. */
  concurrencyPerRegistry?: number;
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
}

/** The digests asked of one registry: each (repository, digest) once, with the references that name it. */
type Work = Map<string, { target: DigestTarget; refs: string[] }>;

/**
 * Asks each registry about each digest reference (repo@sha256:…, as the engine lists them), at most once per
 * (registry, repository, digest). Never rejects for a registry's problem: that is an unknown answer with a reason.
 */
export async function checkDigests(
  refs: readonly string[],
  o: RegistryCheckOptions = {},
): Promise<{ answers: Map<string, DigestAnswer>; calls: number }> {
  const env = o.env ?? process.env;
  const clock = o.clock ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const concurrency = Math.max(1, o.concurrencyPerRegistry ?? 4);
  const answers = new Map<string, DigestAnswer>();
  let calls = 0;
  const secrets = new Set<string>();
  function redact(reason: string): string {
    let text = reason;
    for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('***');
    return text;
  }

  const answer = (registry: string, outcome: Outcome): DigestAnswer => ({
    status: outcome.status,
    registry,
    reason: outcome.reason === null ? null : redact(outcome.reason),
    at: new Date(clock()).toISOString(),
  });

  const registries = new Map<string, Work>();
  for (const ref of refs) {
    const target = digestTarget(ref);
    if ('error' in target) {
      const registry = parseReference(ref).normalized.split('/')[0] ?? '';
      answers.set(ref, answer(registry, { status: 'unknown', reason: target.error }));
      continue;
    }
    const work = registries.get(target.registry) ?? new Map<string, { target: DigestTarget; refs: string[] }>();
    registries.set(target.registry, work);
    const key = `${target.name}@${target.digest}`;
    const entry = work.get(key) ?? { target, refs: [] };
    work.set(key, entry);
    entry.refs.push(ref);
  }

  await Promise.all(
    [...registries].map(async ([registry, work]) => {
      const host = work.values().next().value!.target.host;
      const transport = await registryTransport(host, {
        certsDir: o.certsDir ?? '/etc/docker/certs.d',
        insecureRegistries: o.insecureRegistries ?? [],
        concurrency,
      });
      const session = new RegistrySession({
        transport,
        registry,
        timeoutMs,
        clock,
        credentials: () =>
          registryCredentials(registry, { dockerConfig: o.dockerConfig ?? dockerConfigDir(env), env, timeoutMs }),
        counted: () => void calls++,
        secret: (value) => void secrets.add(value),
      });
      try {
        await mapLimit([...work.values()], concurrency, async ({ target, refs: named }) => {
          let outcome: Outcome;
          try {
            outcome = await session.check(target);
          } catch (error) {
            outcome = { status: 'unknown', reason: `internal error: ${(error as Error).message}` };
          }
          const result = answer(registry, outcome);
          for (const ref of named) answers.set(ref, result);
        });
      } finally {
        closeTransport(transport);
      }
    }),
  );
  return { answers, calls };
}
