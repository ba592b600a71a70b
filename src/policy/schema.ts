import type { ErrorObject } from 'ajv';
import { formatPath } from '../format-path.js';
import type { PolicyProblem, ProblemCode } from './problems.js';
import { DURATION_EXAMPLES, SIZE_EXAMPLES } from './units.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import { didYouMean } from './suggest.js';
import { readSchema, validatorFor, type SchemaName } from '../validation/validators.js';

export function policySchema(): Record<string, unknown> {
  return readSchema('policy');
}

const FORMAT_MESSAGES: Record<string, (v: string) => string> = {
  duration: (v) => `${JSON.stringify(v)} is not a duration (examples: ${DURATION_EXAMPLES})`,
  size: (v) => `${JSON.stringify(v)} is not a size with a unit (examples: ${SIZE_EXAMPLES})`,
  percent: (v) => `${JSON.stringify(v)} is not a percentage (examples: 70%, 85%)`,
  repositoryPattern: (v) =>
    /[A-Z]/.test(v)
      ? `${JSON.stringify(v)} can never match: repositories are lower case`
      : /@|:[^/]*$/.test(v)
        ? `${JSON.stringify(v)} can never match a repository: it names a tag or digest (use references for repository:tag)`
        : `${JSON.stringify(v)} can never match: a repository pattern may not contain spaces`,
  tagPattern: (v) =>
    `${JSON.stringify(v)} can never match a tag (no spaces, ':', '/' or '@'; a tag glob looks like v*.*.*)`,
  referencePattern: (v) => `${JSON.stringify(v)} is not a repository:tag glob (example: nginx:1.*)`,
  labelPattern: (v) => `${JSON.stringify(v)} is not a label (key or key=value)`,
  imageId: (v) => `${JSON.stringify(v)} is not an image ID (a full sha256 ID or at least 12 hex digits of one)`,
  ruleName: (v) =>
    `${JSON.stringify(v)} is not a rule name (letters, digits, . _ -, starting with a letter or digit, at most 100)`,
};

/** Validates against schemas/NAME.schema.json (a policy by default); one problem per key path, positioned. */
export function schemaProblems(source: YamlSource, file: string, name: SchemaName = 'policy'): PolicyProblem[] {
  const validate = validatorFor(name);
  if (validate(source.value)) return [];
  const byPath = new Map<string, PolicyProblem>();
  for (const err of validate.errors ?? []) {
    const converted = convert(err, source, file);
    if (!converted) continue;
    const existing = byPath.get(converted.path);
    if (!existing || rank(converted.code) < rank(existing.code)) byPath.set(converted.path, converted);
  }
  return [...byPath.values()];
}

const RANK: ProblemCode[] = ['unknown-key', 'required', 'type', 'format', 'enum', 'pattern', 'empty-value', 'range'];
function rank(code: ProblemCode): number {
  const i = RANK.indexOf(code);
  return i === -1 ? RANK.length : i;
}

function segments(instancePath: string): PathSegment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // JSON has no Infinity: 1e400 in YAML is a number too large to hold.
  if (typeof value === 'number' && !Number.isFinite(value)) return `a number too large (${String(value)})`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function convert(err: ErrorObject, source: YamlSource, file: string): PolicyProblem | null {
  const segs = segments(err.instancePath);
  const make = (
    path: PathSegment[],
    code: ProblemCode,
    message: string,
    at: 'key' | 'value' = 'value',
  ): PolicyProblem => {
    const { line, col } = source.locate(path, at);
    return { file, line, col, path: formatPath(path), code, message };
  };
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const key = String(params.additionalProperty ?? params.unevaluatedProperty);
      const allowed = allowedKeys(err.parentSchema);
      const hint = didYouMean(key, allowed);
      const suffix = hint ? ` (did you mean "${hint}"?)` : allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
      return make([...segs, key], 'unknown-key', `unknown key "${key}"${suffix}`, 'key');
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return make(
        segs,
        'required',
        `missing required key "${missing}"`,
        segs.length && typeof segs.at(-1) === 'string' ? 'key' : 'value',
      );
    }
    case 'dependentRequired': {
      return make(
        [...segs, String(params.property)],
        'required',
        `${String(params.property)} needs ${String(params.missingProperty)} too`,
        'key',
      );
    }
    case 'type': {
      const def = /#\/\$defs\/([A-Za-z]+)\/type$/.exec(err.schemaPath)?.[1];
      const fmt = def ? FORMAT_MESSAGES[def] : undefined;
      if (fmt && (typeof err.data === 'number' || typeof err.data === 'boolean'))
        return make(segs, 'type', `${fmt(String(err.data))}: write it as a string with its unit`);
      return make(segs, 'type', `must be ${article(String(params.type))}, not ${describe(err.data)}`);
    }
    case 'const':
      return make(segs, 'enum', `must be ${JSON.stringify(params.allowedValue)}, not ${describe(err.data)}`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return make(segs, 'enum', `${describe(err.data)} is not one of ${allowed}`);
    }
    case 'pattern': {
      const def = /#\/\$defs\/([A-Za-z]+)\/pattern$/.exec(err.schemaPath)?.[1];
      const fmt = def ? FORMAT_MESSAGES[def] : undefined;
      const value = typeof err.data === 'string' ? err.data : String(err.data);
      return make(
        segs,
        fmt ? 'format' : 'pattern',
        fmt ? fmt(value) : `${JSON.stringify(value)} must match ${String(params.pattern)}`,
      );
    }
    case 'minItems':
      return make(segs, 'empty-value', 'must list at least one item (an empty list would match nothing)');
    case 'minProperties':
      return make(
        segs,
        'empty-value',
        segs.at(-1) === 'match'
          ? 'match must not be empty (an empty match is never "everything"): name repositories, tags, references, labels, images, untagged or unused'
          : 'must not be empty',
      );
    case 'minLength':
      return make(segs, 'empty-value', 'must not be empty (an empty pattern can never match)');
    case 'maxLength':
      return make(segs, 'range', `must be at most ${String(params.limit)} characters`);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[err.keyword];
      return make(segs, 'range', `must be ${op} ${String(params.limit)}, not ${JSON.stringify(err.data)}`);
    }
    default:
      return make(segs, 'semantic', err.message ?? err.keyword);
  }
}

function article(type: string): string {
  const words: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    integer: 'a whole number',
    number: 'a number',
    boolean: 'true or false',
  };
  return words[type] ?? type;
}

function allowedKeys(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as { properties?: Record<string, unknown>; $ref?: string };
  const keys = Object.keys(s.properties ?? {});
  if (s.$ref === '#/$defs/selector')
    keys.push('repositories', 'tags', 'references', 'labels', 'images', 'untagged', 'unused', 'restorable');
  return [...new Set(keys)].sort();
}
