import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { compilePolicy } from './compile.js';
import { sortProblems, type PolicyProblem } from './problems.js';
import { schemaProblems } from './schema.js';
import type { Policy } from './types.js';
import { policyWarnings, type PolicyWarning } from './warnings.js';
import { parseYamlSource } from './yaml-source.js';

export const MAX_POLICY_BYTES = 1024 * 1024;

/** A valid policy comes with its warnings (usually none): what it allows but probably does not mean. */
export type PolicyResult =
  { ok: true; policy: Policy; warnings: PolicyWarning[] } | { ok: false; problems: PolicyProblem[] };

function fail(file: string, code: PolicyProblem['code'], message: string, line = 1, col = 1): PolicyResult {
  return { ok: false, problems: [{ file, line, col, path: '(root)', code, message }] };
}

/** Validates policy bytes: encoding, YAML (with positions), schema, semantics. Never throws on bad input. */
export function parsePolicy(bytes: Uint8Array | string, file: string): PolicyResult {
  const buf =
    typeof bytes === 'string'
      ? Buffer.from(bytes, 'utf8')
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > MAX_POLICY_BYTES)
    return fail(
      file,
      'too-large',
      `the file is ${buf.length} bytes; a policy may be at most ${MAX_POLICY_BYTES} bytes (1 MiB)`,
    );
  const nul = buf.indexOf(0);
  let text: string;
  try {
    if (nul !== -1) throw new Error('NUL byte');
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    const offset = nul !== -1 ? nul : firstInvalidUtf8(buf);
    const before = buf.subarray(0, offset).toString('utf8');
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    return fail(file, 'encoding', 'not a text file: a policy is UTF-8 YAML', line, col);
  }
  const parsed = parseYamlSource(text, file);
  if ('problems' in parsed) return { ok: false, problems: sortProblems(parsed.problems) };
  const schema = schemaProblems(parsed.source, file);
  const sha256 = createHash('sha256').update(buf).digest('hex');
  if (schema.length > 0)
    return { ok: false, problems: sortProblems([...schema, ...semanticExtras(parsed.source, file, schema)]) };
  const compiled = compilePolicy(parsed.source, file, sha256);
  if ('problems' in compiled) return { ok: false, problems: sortProblems(compiled.problems) };
  return { ok: true, policy: compiled.policy, warnings: policyWarnings(compiled.policy, parsed.source) };
}

/** Semantic problems on paths the schema did not already flag, so a user sees all errors at once. */
function semanticExtras(
  source: Parameters<typeof compilePolicy>[0],
  file: string,
  schema: PolicyProblem[],
): PolicyProblem[] {
  let compiled;
  try {
    compiled = compilePolicy(source, file, '');
  } catch {
    return []; // the document's shape is too far off for semantic checks; the schema errors say why
  }
  if (!('problems' in compiled)) return [];
  const flagged = schema.map((p) => p.path);
  return compiled.problems.filter(
    (p) =>
      !flagged.some(
        (f) => p.path === f || p.path.startsWith(`${f}.`) || p.path.startsWith(`${f}[`) || f.startsWith(`${p.path}.`),
      ),
  );
}

/** Byte offset of the first invalid UTF-8 sequence. */
function firstInvalidUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > buf.length) return i;
    for (let k = 1; k < len; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return buf.length;
}

/** Reads and validates a policy file; a file over 1 MiB is refused before it is read whole. */
export async function loadPolicyFile(file: string): Promise<PolicyResult> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String(err);
    return fail(file, 'io', `cannot read the policy: ${why}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) return fail(file, 'io', 'cannot read the policy: is a directory');
    if (stat.size > MAX_POLICY_BYTES)
      return fail(
        file,
        'too-large',
        `the file is ${stat.size} bytes; a policy may be at most ${MAX_POLICY_BYTES} bytes (1 MiB)`,
      );
    const buf = Buffer.alloc(MAX_POLICY_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return parsePolicy(buf.subarray(0, bytesRead), file);
  } catch (err) {
    return fail(file, 'io', `cannot read the policy: ${(err as Error).message}`);
  } finally {
    await handle.close();
  }
}
