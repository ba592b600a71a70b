/**
 * Reading a policy test file: YAML with positions, validated against schemas/policy-test.schema.json and a few
 * rules of its own, every problem positioned as a policy's are.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatPath } from '../format-path.js';
import { sortProblems, type PolicyProblem } from '../policy/problems.js';
import { schemaProblems } from '../policy/schema.js';
import { parseSize } from '../policy/units.js';
import { parseYamlSource, type PathSegment, type YamlSource } from '../policy/yaml-source.js';
import type { ContainerState } from '../inventory/types.js';

export interface InlineImage {
  refs?: string[];
  id?: string;
  created?: string;
  size?: string;
  parent?: string;
  labels?: Record<string, string>;
  lastUsed?: string;
  firstSeen?: string;
  restorable?: boolean;
}

export interface InlineContainer {
  image: string;
  state: ContainerState;
  name?: string;
  finished?: string;
}

export interface Expectation {
  /** Where the expectation is written, for failures. */
  line: number;
  ref?: string;
  image?: string;
  fate: 'deleted' | 'untagged' | 'kept';
  rule?: string;
  reason?: string;
  /** Parsed from the size text. */
  bytes?: number;
  /** Half a unit of the last digit written: "1.1GB" holds for 1.05 GB up to 1.15 GB. */
  bytesTolerance?: number;
}

export interface PolicyTestCase {
  file: string;
  name: string;
  /** Resolved against the test file's folder. */
  policy: string;
  now: string | null;
  inventory: { file: string } | { images: InlineImage[]; containers: InlineContainer[] };
  expect: Expectation[];
}

interface RawCase {
  name?: string;
  policy: string;
  now?: string;
  inventory?: string;
  images?: InlineImage[];
  containers?: InlineContainer[];
  expect: (Omit<Expectation, 'line' | 'bytes'> & { bytes?: string })[];
}

export type PolicyTestResult = { ok: true; test: PolicyTestCase } | { ok: false; problems: PolicyProblem[] };

/** Validates a test file's text; never throws on bad input. */
export function parsePolicyTest(text: string, file: string): PolicyTestResult {
  const parsed = parseYamlSource(text, file);
  if ('problems' in parsed) return { ok: false, problems: sortProblems(parsed.problems) };
  const schema = schemaProblems(parsed.source, file, 'policy-test');
  if (schema.length > 0) return { ok: false, problems: sortProblems(schema) };
  const raw = parsed.source.value as RawCase;
  const problems = semanticProblems(raw, parsed.source, file);
  if (problems.length > 0) return { ok: false, problems: sortProblems(problems) };
  const base = dirname(file);
  return {
    ok: true,
    test: {
      file,
      name: raw.name ?? file,
      policy: resolve(base, raw.policy),
      now: raw.now ?? null,
      inventory:
        raw.inventory !== undefined
          ? { file: resolve(base, raw.inventory) }
          : { images: raw.images ?? [], containers: raw.containers ?? [] },
      expect: raw.expect.map(({ bytes, ...e }, i) => ({
        ...e,
        line: parsed.source.locate(['expect', i]).line,
        ...(bytes === undefined ? {} : { bytes: parseSize(bytes)!, bytesTolerance: tolerance(bytes) }),
      })),
    },
  };
}

function tolerance(size: string): number {
  const m = /^[0-9]+(?:\.([0-9]+))? ?([kKMGTP]i?B|B)$/.exec(size)!;
  return (parseSize(`1${m[2]!}`)! * 0.5) / 10 ** (m[1]?.length ?? 0);
}

function semanticProblems(raw: RawCase, source: YamlSource, file: string): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const at = (path: PathSegment[], message: string, where: 'key' | 'value' = 'key') => {
    const { line, col } = source.locate(path, where);
    out.push({ file, line, col, path: formatPath(path), code: 'semantic', message });
  };
  if (raw.inventory !== undefined && raw.images !== undefined)
    at(['images'], 'give either inventory (a saved one) or images (written here), not both');
  if (raw.inventory === undefined && raw.images === undefined)
    at([], 'name an inventory (a saved one) or list images', 'value');
  if (raw.inventory !== undefined && raw.containers !== undefined)
    at(['containers'], 'containers go with images written here; a saved inventory has its own');
  raw.expect.forEach((e, i) => {
    if ((e.ref === undefined) === (e.image === undefined)) at(['expect', i], 'name either a ref or an image', 'value');
    if (e.reason !== undefined && e.fate !== 'kept') at(['expect', i, 'reason'], 'a reason goes with fate: kept');
    if (e.bytes !== undefined && e.fate !== 'deleted') at(['expect', i, 'bytes'], 'bytes go with fate: deleted');
    if (e.bytes !== undefined && parseSize(e.bytes) === null) at(['expect', i, 'bytes'], `${e.bytes} is too large`);
  });
  const refs = new Set((raw.images ?? []).flatMap((img, i) => [...(img.refs ?? []), img.id ?? `#${i}`]));
  (raw.images ?? []).forEach((img, i) => {
    if (img.parent !== undefined && !refs.has(img.parent))
      at(['images', i, 'parent'], `no image here has the reference or ID ${JSON.stringify(img.parent)}`, 'value');
  });
  (raw.images ?? []).forEach((img, i) => {
    if (img.restorable !== undefined && !(img.refs ?? []).some((r) => r.includes('@')))
      at(['images', i, 'restorable'], 'a registry answers for a digest: add one (repo@sha256:…) to refs');
  });
  (raw.containers ?? []).forEach((c, i) => {
    if (!refs.has(c.image))
      at(['containers', i, 'image'], `no image here has the reference or ID ${JSON.stringify(c.image)}`, 'value');
  });
  return out;
}

export async function loadPolicyTest(file: string): Promise<PolicyTestResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    return {
      ok: false,
      problems: [{ file, line: 1, col: 1, path: '(root)', code: 'io', message: `cannot read the test: ${why}` }],
    };
  }
  return parsePolicyTest(text, file);
}
