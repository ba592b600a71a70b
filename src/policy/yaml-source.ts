import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import type { PolicyProblem, ProblemCode } from './problems.js';

/** Expanding more aliases than this is treated as an alias bomb ("billion laughs"). */
export const MAX_ALIAS_COUNT = 100;

export type PathSegment = string | number;

/** A parsed YAML document that can map a key path back to a line and column. */
export interface YamlSource {
  value: unknown;
  locate(path: readonly PathSegment[], at?: 'key' | 'value'): { line: number; col: number };
}

type Position = { line: number; col: number };

function problem(file: string, pos: Position, code: ProblemCode, message: string, path = '(root)'): PolicyProblem {
  return { file, line: pos.line, col: pos.col, path, code, message };
}

const YAML_CODES: Partial<Record<string, ProblemCode>> = { DUPLICATE_KEY: 'duplicate-key' };

/** Parses one YAML document with positions; problems for syntax errors, duplicates, aliases, extra documents. */
export function parseYamlSource(text: string, file: string): { source: YamlSource } | { problems: PolicyProblem[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number): Position => lc.linePos(Math.max(0, Math.min(offset, text.length)));
  if (!Array.isArray(docs) || docs.length === 0) {
    return { problems: [problem(file, { line: 1, col: 1 }, 'empty', 'the policy file is empty (expected a mapping with at least `version: 1`)')] };
  }
  const problems: PolicyProblem[] = [];
  for (const doc of docs) {
    for (const err of doc.errors) {
      const code = YAML_CODES[err.code] ?? 'syntax';
      const msg = code === 'duplicate-key' ? `duplicate key: ${firstLine(err.message).replace(/^Map keys must be unique.*$/, 'keys must be unique in a mapping')}` : `YAML syntax error: ${firstLine(err.message)}`;
      problems.push(problem(file, at(err.pos[0]), code, msg));
    }
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    problems.push(problem(file, at(second.range[0]), 'multi-document', 'the file holds more than one YAML document; a policy is exactly one'));
  }
  if (problems.length > 0) return { problems };
  const doc = docs[0]!;
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { problems: [problem(file, { line: 1, col: 1 }, 'empty', 'the policy file is empty (expected a mapping with at least `version: 1`)')] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const node = firstAlias(doc);
    const pos = node?.range ? at(node.range[0]) : { line: 1, col: 1 };
    const detail = err instanceof Error ? err.message : String(err);
    return { problems: [problem(file, pos, 'alias', `aliases expand too far (limit ${MAX_ALIAS_COUNT}): ${firstLine(detail)}`)] };
  }
  if (!isMap(doc.contents)) {
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    const pos = doc.contents.range ? at(doc.contents.range[0]) : { line: 1, col: 1 };
    return { problems: [problem(file, pos, 'not-mapping', `a policy must be a mapping of keys (version, rules, ...), not ${kind}`)] };
  }
  return { source: { value, locate: (path, where = 'value') => locate(doc, path, where, at) } };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function firstAlias(doc: Document): Node | null {
  let found: Node | null = null;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

function locate(doc: Document, path: readonly PathSegment[], where: 'key' | 'value', at: (o: number) => Position): Position {
  let node: unknown = doc.contents;
  let best: Node | null = isNodeLike(node) ? node : null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) break;
      const keyNode = isNodeLike(pair.key) ? pair.key : null;
      if (last && where === 'key' && keyNode) return pos(keyNode, at);
      node = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
      best = isNodeLike(node) ? node : keyNode ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      node = isAlias(item) ? item.resolve(doc) : item;
      if (isNodeLike(node)) best = node;
    } else break;
  }
  return best ? pos(best, at) : { line: 1, col: 1 };
}

function isNodeLike(n: unknown): n is Node {
  return typeof n === 'object' && n !== null && 'range' in n;
}

function keyText(key: unknown): string | null {
  if (isScalar(key)) return String(key.value);
  return null;
}

function pos(node: Node, at: (o: number) => Position): Position {
  return node.range ? at(node.range[0]) : { line: 1, col: 1 };
}
