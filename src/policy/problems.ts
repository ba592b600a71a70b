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
