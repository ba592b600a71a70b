/** Property tests: parsePolicy never throws, always answers with a policy or well-formed positioned problems. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parsePolicy, type PolicyResult } from '../../src/policy/load.js';
import { formatProblem } from '../../src/policy/problems.js';

const RUNS = 200;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Parses and checks the answer's shape; returns it for further checks. */
function check(input: string | Uint8Array, opts: { sortedAndUnique?: boolean } = {}): PolicyResult {
  const r = parsePolicy(input, 'prop.yaml');
  if (r.ok) {
    expect(r.policy.version).toBe(1);
    expect(r.policy.file).toBe('prop.yaml');
    return r;
  }
  expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) {
    expect(p.file).toBe('prop.yaml');
    expect(Number.isInteger(p.line) && p.line >= 1, formatProblem(p)).toBe(true);
    expect(Number.isInteger(p.col) && p.col >= 1, formatProblem(p)).toBe(true);
    expect(typeof p.path === 'string' && p.path.length > 0, formatProblem(p)).toBe(true);
    expect(typeof p.message === 'string' && p.message.length > 0, formatProblem(p)).toBe(true);
  }
  if (opts.sortedAndUnique) {
    const shown = r.problems.map(formatProblem).join('\n');
    for (let i = 1; i < r.problems.length; i++) {
      const a = r.problems[i - 1]!;
      const b = r.problems[i]!;
      expect(a.line < b.line || (a.line === b.line && a.col <= b.col), shown).toBe(true);
    }
    const paths = r.problems.map((p) => p.path);
    expect(new Set(paths).size, shown).toBe(paths.length);
  }
  return r;
}

function isJsonable(v: unknown): v is Json {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonable);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    return (proto === Object.prototype || proto === null) && Object.values(v).every(isJsonable);
  }
  return false;
}

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3, withBoxedValues: false, withMap: false, withSet: false }).filter(isJsonable),
);

describe('random JSON documents', () => {
  it('as YAML text: never throws, answers well-formed', () => {
    fc.assert(
      fc.property(jsonish, (v) => void check(stringify(v))),
      { numRuns: RUNS },
    );
  });

  it('as JSON text: never throws, answers well-formed', () => {
    fc.assert(
      fc.property(jsonish, (v) => void check(JSON.stringify(v))),
      { numRuns: RUNS },
    );
  });

  it('under `version: 1` and the policy keys: never throws', () => {
    const keys = fc.constantFrom('name', 'protect', 'containers', 'rules', 'disk', 'limits');
    const doc = fc.dictionary(keys, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }).map((o) => ({ version: 1, ...o }));
    fc.assert(
      fc.property(doc, (d) => void check(stringify(d), { sortedAndUnique: true })),
      { numRuns: RUNS },
    );
  });
});

describe('random bytes', () => {
  it('never throws, answers well-formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => void check(b)),
      { numRuns: RUNS },
    );
  });

  it('printable-ish text with YAML punctuation: never throws', () => {
    const chars = fc.constantFrom(...'version: 1\n-[]{}&*!|>\'"%@`#,?: \t\nabc0123rules'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 200 }), (cs) => void check(cs.join(''))),
      { numRuns: RUNS },
    );
  });
});

/* ---------- mutations of a valid policy ---------- */

const BASE: Json = {
  version: 1,
  name: 'ci-runner',
  protect: {
    repositories: ['registry.acme.io/base/**'],
    tags: ['latest', 'stable', 'v*.*.*'],
    references: ['nginx:1.*'],
    labels: ['com.acme.keep', 'tier=prod'],
    images: ['sha256:3e207b409db3'],
    youngerThan: '1h',
  },
  containers: { stopped: 'remove', stoppedFor: '24h' },
  rules: [
    { name: 'dangling', match: { untagged: true }, olderThan: '1h' },
    {
      name: 'pr-builds',
      match: { repositories: ['registry.acme.io/ci/**'], tags: ['pr-*', 'sha-*'], exclude: { tags: ['*-pinned'] } },
      unusedFor: '6h',
      keep: { newest: 2, per: 'repository', by: 'created' },
      action: 'untag',
    },
    { name: 'all-unused-after-two-weeks', match: { unused: true }, olderThan: '14d' },
  ],
  disk: { maxUsage: '85%', targetUsage: '70%', maxImageBytes: '40GiB', targetImageBytes: '30GiB', order: 'lru' },
  limits: { maxDeletions: 500, maxDeletionsPercent: 60 },
};

type Path = (string | number)[];

/** Every path to a value inside v (not the root). */
function paths(v: Json, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...prefix, i], ...paths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push([...prefix, k], ...paths(x, [...prefix, k]));
  return out;
}

function parentOf(root: Json, path: Path): Json {
  let v = root;
  for (const s of path.slice(0, -1)) v = (v as Record<string | number, Json>)[s]!;
  return v;
}

type Mutation =
  | { kind: 'delete'; pick: number }
  | { kind: 'rename'; pick: number; typo: (k: string) => string }
  | { kind: 'replace'; pick: number; value: Json };

const typo = fc.oneof(
  fc.nat().map((n) => (k: string) => (k.length > 1 ? k.slice(0, n % k.length) + k.slice((n % k.length) + 1) : `${k}x`)), // drop a char
  fc.nat().map((n) => (k: string) => {
    const i = n % Math.max(1, k.length - 1);
    return k.length > 1 ? k.slice(0, i) + k[i + 1] + k[i] + k.slice(i + 2) : `${k}${k}`;
  }), // swap two chars
  fc.constant((k: string) => (k.toLowerCase() === k ? k.toUpperCase() : k.toLowerCase())), // case
  fc.constant((k: string) => `${k}s`), // plural
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), typo }),
  fc.record({
    kind: fc.constant('replace' as const),
    pick: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  }),
);

function mutate(base: Json, muts: Mutation[]): Json {
  const root = structuredClone(base);
  for (const m of muts) {
    const all = paths(root);
    if (all.length === 0) break;
    const path = all[m.pick % all.length]!;
    const parent = parentOf(root, path) as Record<string | number, Json> | Json[];
    const key = path.at(-1)!;
    if (m.kind === 'replace') {
      (parent as Record<string | number, Json>)[key] = m.value;
    } else if (Array.isArray(parent)) {
      if (m.kind === 'delete') parent.splice(key as number, 1);
    } else {
      const entries = Object.entries(parent);
      const renamed = m.kind === 'rename' ? m.typo(String(key)) : null;
      for (const k of Object.keys(parent)) delete parent[k];
      // keep key order, so positions stay realistic
      for (const [k, v] of entries) {
        if (k !== key) parent[k] = v;
        else if (renamed !== null && !(renamed in parent) && !entries.some(([e]) => e === renamed)) parent[renamed] = v;
      }
    }
  }
  return root;
}

describe('mutations of a valid policy', () => {
  it('the base policy is valid', () => {
    expect(check(stringify(BASE)).ok).toBe(true);
  });

  it('never throw; problems are well-formed, sorted and one per path', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (muts, asJson) => {
        const doc = mutate(BASE, muts);
        check(asJson ? JSON.stringify(doc, null, 2) : stringify(doc), { sortedAndUnique: true });
      }),
      { numRuns: RUNS },
    );
  });

  it('a renamed key is reported as unknown with a did-you-mean hint (or the policy is still valid)', () => {
    const keyPaths = paths(BASE).filter((p) => typeof p.at(-1) === 'string' && String(p.at(-1)).length >= 4);
    fc.assert(
      fc.property(fc.nat(), (n) => {
        const path = keyPaths[n % keyPaths.length]!;
        const key = String(path.at(-1));
        const misspelt = key.slice(0, 1) + key.slice(2); // drop the second character
        const doc = mutate(BASE, [
          {
            kind: 'rename',
            pick: paths(BASE).findIndex((p) => p.join('\0') === path.join('\0')),
            typo: () => misspelt,
          },
        ]);
        const r = check(stringify(doc), { sortedAndUnique: true });
        expect(r.ok).toBe(false);
        if (r.ok) return;
        const unknown = r.problems.find((p) => p.code === 'unknown-key');
        expect(unknown, r.problems.map(formatProblem).join('\n')).toBeDefined();
        expect(unknown!.message).toContain(`did you mean "${key}"?`);
      }),
      { numRuns: 60 },
    );
  });
});

/* ---------- a generator of valid policies ---------- */

const lower = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const word = fc.array(lower, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(''));
const segmentGlob = fc.oneof(
  word,
  word.map((w) => `${w}*`),
  word.map((w) => `*${w}`),
  fc.constant('*'),
);
const repositoryGlob = fc
  .tuple(fc.array(segmentGlob, { minLength: 1, maxLength: 3 }), fc.constantFrom('', '/**', '/*'))
  .map(([segs, tail]) => segs.join('/') + tail);
const tagGlob = fc.oneof(
  word,
  word.map((w) => `${w}-*`),
  fc.constantFrom('latest', 'stable', 'v*.*.*', '*-pinned', 'sha-*', 'V1.*', 'release_2024.01'),
);
const referenceGlob = fc
  .tuple(
    repositoryGlob.filter((r) => !r.endsWith('**')),
    tagGlob,
  )
  .map(([r, t]) => `${r}:${t}`);
const label = fc.oneof(
  word.map((w) => `com.acme.${w}`),
  fc.tuple(word, word).map(([k, v]) => `${k}=${v}`),
);
const imageId = fc
  .tuple(
    fc.constantFrom('', 'sha256:'),
    fc.array(fc.constantFrom(...'0123456789abcdef'.split('')), { minLength: 12, maxLength: 64 }),
  )
  .map(([p, hex]) => p + hex.join(''));
const duration = fc
  .array(fc.tuple(fc.nat({ max: 999 }), fc.constantFrom('s', 'm', 'h', 'd', 'w')), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.map(([n, u]) => `${n}${u}`).join(''));
const list = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 3 });

const selectorFields = fc
  .record(
    {
      repositories: list(repositoryGlob),
      tags: list(tagGlob),
      references: list(referenceGlob),
      labels: list(label),
      images: list(imageId),
      untagged: fc.boolean(),
      unused: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .map((s) => (s.untagged === true ? { ...s, tags: undefined, references: undefined } : s))
  .map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)))
  .filter((s) => Object.keys(s).length > 0);

const rule = fc.record(
  {
    match: fc
      .tuple(selectorFields, fc.option(selectorFields, { nil: undefined }))
      .map(([m, ex]) => (ex ? { ...m, exclude: ex } : m)),
    olderThan: duration,
    unusedFor: duration,
    keep: fc.record(
      {
        newest: fc.integer({ min: 1, max: 20 }),
        per: fc.constant('repository'),
        by: fc.constantFrom('created', 'lastUsed'),
      },
      { requiredKeys: ['newest'] },
    ),
    action: fc.constantFrom('delete', 'untag'),
    description: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: ['match'] },
);

const disk = fc.oneof(
  fc
    .integer({ min: 1, max: 100 })
    .chain((max) =>
      fc.record(
        { maxUsage: fc.constant(`${max}%`), targetUsage: fc.integer({ min: 0, max: max - 1 }).map((t) => `${t}%`) },
        { requiredKeys: ['maxUsage'] },
      ),
    ),
  fc
    .tuple(
      fc.integer({ min: 1, max: 4096 }),
      fc.constantFrom('MB', 'GB', 'MiB', 'GiB'),
      fc.integer({ min: 0, max: 100 }),
    )
    .map(([n, unit, pct]) => ({
      maxImageBytes: `${n}${unit}`,
      targetImageBytes: `${Math.floor((n * pct) / 100)}${unit}`,
      order: 'lru',
    })),
);

const validPolicy = fc
  .record(
    {
      name: fc.string({ minLength: 1, maxLength: 40 }),
      protect: fc.record(
        {
          repositories: list(repositoryGlob),
          tags: list(tagGlob),
          references: list(referenceGlob),
          labels: list(label),
          images: list(imageId),
          youngerThan: duration,
        },
        { requiredKeys: [] },
      ),
      containers: fc.record(
        { stopped: fc.constantFrom('protect', 'remove'), stoppedFor: duration },
        { requiredKeys: [] },
      ),
      rules: fc.array(rule, { maxLength: 5 }).map((rs) => rs.map((r, i) => ({ name: `rule-${i}.x_${i}`, ...r }))),
      disk,
      limits: fc.record(
        { maxDeletions: fc.integer({ min: 1, max: 10_000 }), maxDeletionsPercent: fc.integer({ min: 1, max: 100 }) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  )
  .map((p) => ({ version: 1, ...p }));

describe('generated valid policies', () => {
  it('always load, as YAML and as JSON, into the same policy', () => {
    fc.assert(
      fc.property(validPolicy, (doc) => {
        const y = parsePolicy(stringify(doc), 'gen.yaml');
        if (!y.ok) expect.fail(`${stringify(doc)}\n${y.problems.map(formatProblem).join('\n')}`);
        const j = parsePolicy(JSON.stringify(doc), 'gen.yaml');
        if (!j.ok) expect.fail(`${JSON.stringify(doc)}\n${j.problems.map(formatProblem).join('\n')}`);
        expect(y.policy.rules.map((r) => r.name)).toEqual((doc.rules ?? []).map((r) => r.name));
        expect(j.policy.rules.map((r) => [r.name, r.olderThanMs, r.unusedForMs, r.action])).toEqual(
          y.policy.rules.map((r) => [r.name, r.olderThanMs, r.unusedForMs, r.action]),
        );
        expect(y.policy.name).toBe(doc.name ?? null);
        expect(y.policy.containers.stopped).toBe(doc.containers?.stopped ?? 'protect');
      }),
      { numRuns: RUNS },
    );
  });
});
