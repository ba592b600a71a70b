/** A problem found in a policy file, positioned at the offending key or value. */
export type ProblemCode =
  | 'io'
  | 'too-large'
  | 'encoding'
  | 'syntax'
  | 'duplicate-key'
  | 'alias'
  | 'multi-document'
  | 'empty'
  | 'not-mapping'
  | 'unknown-key'
  | 'required'
  | 'type'
  | 'format'
  | 'enum'
  | 'empty-value'
  | 'range'
  | 'pattern'
  | 'duplicate-name'
  | 'semantic';

export interface PolicyProblem {
  file: string;
  line: number;
  col: number;
  /** Key path like rules[1].olderThan; "(root)" for the document itself. */
  path: string;
  code: ProblemCode;
  message: string;
}

export function formatProblem(p: PolicyProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path}: ${p.message}`;
}

export function sortProblems(problems: PolicyProblem[]): PolicyProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
}

/** JSON-pointer-ish segments to the printed key path: ["rules", 1, "olderThan"] -> rules[1].olderThan */
export function formatPath(segments: readonly (string | number)[]): string {
  if (segments.length === 0) return '(root)';
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (!/^[A-Za-z_$][\w$-]*$/.test(s)) out += `[${JSON.stringify(s)}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}
