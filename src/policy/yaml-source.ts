import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  visit,
  type Document,
  type Node,
} from 'yaml';
import { formatPath } from '../format-path.js';
import type { PolicyProblem, ProblemCode } from './problems.js';

/** Expanding more aliases than this is treated as an alias bomb ("billion laughs"). */
export const MAX_ALIAS_COUNT = 100;
/**
 * At most this many nodes once aliases are expanded. A policy has a few thousand; a few aliases of a large anchor
 * stay within the alias count and still expand to millions, which took minutes and gigabytes to load.
 */
export const MAX_EXPANDED_NODES = 250_000;

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

/** Parses one YAML document with positions; problems for syntax errors, duplicates, aliases, extra documents. */
export function parseYamlSource(text: string, file: string): { source: YamlSource } | { problems: PolicyProblem[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lc,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    logLevel: 'silent',
  });
  const at = (offset: number): Position => lc.linePos(Math.max(0, Math.min(offset, text.length)));
  if (!Array.isArray(docs) || docs.length === 0) {
    return {
      problems: [
        problem(
          file,
          { line: 1, col: 1 },
          'empty',
          'the policy file is empty (expected a mapping with at least `version: 1`)',
        ),
      ],
    };
  }
  const problems: PolicyProblem[] = [];
  for (const doc of docs) {
    let syntaxSeen = false;
    for (const err of doc.errors) {
      if (err.code === 'DUPLICATE_KEY') {
        const path = pathAtOffset(doc, err.pos[0]);
        const key = path.at(-1);
        problems.push(
          problem(
            file,
            at(err.pos[0]),
            'duplicate-key',
            `duplicate key ${JSON.stringify(String(key ?? ''))}: a key may appear once in a mapping`,
            formatPath(path),
          ),
        );
        continue;
      }
      // Later syntax errors are mostly consequences of the first one.
      if (syntaxSeen) continue;
      syntaxSeen = true;
      const opener =
        err.code === 'MISSING_CHAR' || /flow (sequence|mapping|collection)/i.test(err.message)
          ? unclosedOpener(text, err.pos[0])
          : null;
      const pos =
        opener !== null ? at(opener) : err.code === 'BAD_INDENT' ? firstNonBlank(text, err.pos[0], at) : at(err.pos[0]);
      const what = opener !== null ? (text[opener] === '"' || text[opener] === "'" ? 'quote' : 'bracket') : '';
      const msg =
        opener !== null
          ? `YAML syntax error: unclosed ${what}: the ${text[opener]} opened here is never closed`
          : `YAML syntax error: ${firstLine(err.message).replace(/ at line \d+, column \d+:?$/, '')}`;
      problems.push(problem(file, pos, 'syntax', msg));
    }
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    problems.push(
      problem(
        file,
        at(second.range[0]),
        'multi-document',
        'the file holds more than one YAML document; a policy is exactly one',
      ),
    );
  }
  if (problems.length > 0) return { problems };
  const doc = docs[0]!;
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return {
      problems: [
        problem(
          file,
          { line: 1, col: 1 },
          'empty',
          'the policy file is empty (expected a mapping with at least `version: 1`)',
        ),
      ],
    };
  }
  const tooLarge = expandsPast(doc, MAX_EXPANDED_NODES);
  if (tooLarge !== null) {
    const pos = tooLarge.range ? at(tooLarge.range[0]) : { line: 1, col: 1 };
    const limit = MAX_EXPANDED_NODES.toLocaleString('en-US');
    const why = isAlias(tooLarge)
      ? `aliases expand the policy past ${limit} nodes`
      : `the policy holds more than ${limit} nodes`;
    return { problems: [problem(file, pos, 'alias', why)] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const node = firstAlias(doc);
    const pos = node?.range ? at(node.range[0]) : { line: 1, col: 1 };
    const detail = err instanceof Error ? err.message : String(err);
    return {
      problems: [
        problem(file, pos, 'alias', `aliases expand too far (limit ${MAX_ALIAS_COUNT}): ${firstLine(detail)}`),
      ],
    };
  }
  if (!isMap(doc.contents)) {
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    const pos = doc.contents.range ? at(doc.contents.range[0]) : { line: 1, col: 1 };
    return {
      problems: [
        problem(file, pos, 'not-mapping', `a policy must be a mapping of keys (version, rules, ...), not ${kind}`),
      ],
    };
  }
  return { source: { value, locate: (path, where = 'value') => locate(doc, path, where, at) } };
}

/**
 * Where the document, aliases expanded, is past `limit` nodes (an alias that refers to itself, else the first
 * alias, else the document), or null. Counted without expanding: each node's size once, an alias its anchor's.
 */
function expandsPast(doc: Document, limit: number): Node | null {
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let culprit: Node | null = null;
  const size = (node: unknown): number => {
    if (culprit !== null) return Infinity;
    if (isAlias(node)) {
      const n = size(node.resolve(doc));
      if (n === Infinity) culprit ??= node;
      return n;
    }
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    if (open.has(node)) return Infinity; // an anchor inside itself
    open.add(node);
    let n = 1;
    for (const item of node.items as unknown[]) {
      n += isPair(item) ? size(item.key) + size(item.value) : size(item);
      if (n > limit) n = Infinity;
      if (n === Infinity) break;
    }
    open.delete(node);
    sizes.set(node, n);
    return n;
  };
  return size(doc.contents) === Infinity ? (culprit ?? firstAlias(doc) ?? doc.contents) : null;
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

function locate(
  doc: Document,
  path: readonly PathSegment[],
  where: 'key' | 'value',
  at: (o: number) => Position,
): Position {
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
      best = isNodeLike(node) ? node : (keyNode ?? best);
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

/** The key path of the map key at `offset` (for duplicate-key errors). */
function pathAtOffset(doc: Document, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const within = (n: unknown, end: 1 | 2) =>
        isNodeLike(n) && n.range && offset >= n.range[0] && offset < n.range[end];
      const byKey = node.items.find((p) => within(p.key, 2));
      if (byKey) return [...path, keyText(byKey.key) ?? '?'];
      const byValue = node.items.find((p) => within(p.value, 2));
      if (!byValue) return path;
      path.push(keyText(byValue.key) ?? '?');
      node = byValue.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex(
        (it) => isNodeLike(it) && it.range && offset >= it.range[0] && offset <= it.range[2],
      );
      if (i === -1) return path;
      path.push(i);
      node = node.items[i];
    } else return path;
  }
}

/** Where the innermost quote or bracket still open at `end` was opened; null when none is. */
function unclosedOpener(text: string, end: number): number | null {
  const stack: number[] = [];
  let quote: number | null = null;
  for (let i = 0; i < Math.min(end, text.length); i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (text[quote] === '"' && c === '\\') i++;
      else if (c === text[quote]) {
        if (c === "'" && text[i + 1] === "'") i++;
        else quote = null;
      }
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]!))) quote = i;
    else if (c === '[' || c === '{') stack.push(i);
    else if ((c === ']' || c === '}') && stack.length) stack.pop();
  }
  return quote ?? stack.at(-1) ?? null;
}

/** Errors reported at the start of a line point at its first non-blank character instead. */
function firstNonBlank(text: string, offset: number, at: (o: number) => Position): Position {
  let i = offset;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  return at(i < text.length && text[i] !== '\n' ? i : offset);
}
