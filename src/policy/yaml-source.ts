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
  type YAMLError,
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
  let fault: IndentFault | null | undefined;
  let openerAt: ((end: number) => number | null) | undefined;
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
      // The parser often notices an indentation mistake a line early (at the value before it) or late (at the
      // next block); following the indentation ourselves finds the line to change and can say what fits there.
      if (fault === undefined) fault = indentationFault(text);
      if (fault && nearError(text, doc.errors, fault)) {
        problems.push(problem(file, at(fault.offset), 'syntax', fault.message));
        continue;
      }
      const opener =
        err.code === 'MISSING_CHAR' || /flow (sequence|mapping|collection)/i.test(err.message)
          ? (openerAt ??= openerFinder(text))(err.pos[0])
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

/**
 * Whether an indentation fault is the parser's first error seen from the right line: the walk noticed it on the line
 * of the parser's earliest error or the next line with content (the parser often stops at the value before a badly
 * indented line).
 */
function nearError(text: string, errors: readonly YAMLError[], fault: IndentFault): boolean {
  const first = errors.reduce((min, e) => (e.code === 'DUPLICATE_KEY' ? min : Math.min(min, e.pos[0])), Infinity);
  if (first === Infinity) return false;
  const start = text.lastIndexOf('\n', first - 1) + 1;
  let end = text.indexOf('\n', first);
  while (end !== -1) {
    const next = text.indexOf('\n', end + 1);
    const line = text.slice(end + 1, next === -1 ? text.length : next).trim();
    end = next;
    if (line !== '' && !line.startsWith('#')) break;
  }
  if (end === -1) end = text.length;
  const seen = fault.seen ?? fault.offset;
  return seen >= start && seen <= end;
}

/**
 * Where the innermost quote or bracket still open at an offset was opened (null when none is). Offsets asked in
 * rising order share one scan of the text: a file of many documents has an error in each.
 */
function openerFinder(text: string): (end: number) => number | null {
  let state: FlowState = { openers: [], quote: null, next: 0 };
  return (end) => {
    const lineStart = text.lastIndexOf('\n', end - 1) + 1;
    if (lineStart < state.next) state = { openers: [], quote: null, next: 0 };
    while (state.next < lineStart) scanFlow(text, state.next, lineStart, state);
    // The rest of the line is scanned on a copy of as much of the stack as its closing brackets can take off.
    let closers = 0;
    for (let i = lineStart; i < end; i++) if (text[i] === ']' || text[i] === '}') closers++;
    const below = Math.max(0, state.openers.length - closers);
    const line: FlowState = { openers: state.openers.slice(below), quote: state.quote, next: state.next };
    while (line.next < end) scanFlow(text, line.next, end, line);
    return line.quote ?? line.openers.at(-1) ?? (below > 0 ? state.openers[below - 1]! : null);
  };
}

/** Errors reported at the start of a line point at its first non-blank character instead. */
function firstNonBlank(text: string, offset: number, at: (o: number) => Position): Position {
  let i = offset;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  return at(i < text.length && text[i] !== '\n' ? i : offset);
}

/** A mistake in the block indentation, found by following the lines the way the YAML parser reads them. */
interface IndentFault {
  offset: number;
  message: string;
  /** Where the walk noticed it, when that is after the line to change. */
  seen?: number;
}

/** A block collection still open. */
interface Level {
  kind: 'map' | 'seq';
  /** The column of its entries. */
  indent: number;
  /** The line of its first entry, where that entry starts, and the line of its latest entry. */
  first: number;
  firstAt: number;
  line: number;
  /** Opened on a line of its own under a key or "-" (not after "- " on the same line). */
  child: boolean;
  /** A list written at the same column as the key it belongs to. */
  indentless: boolean;
}

/** A key (or a list item, key null) and where it is: its value's later lines must be deeper than `indent`. */
interface Owner {
  key: string | null;
  indent: number;
  line: number;
  offset: number;
}

/** The line placed last, and the collections it closed. */
interface Entry {
  line: number;
  at: number;
  indent: number;
  head: Head;
  closed: Level[];
  /** The key (or "-") before it that expected a value on this line, at this line's column. */
  emptied: Owner | null;
}

interface FlowState {
  openers: number[];
  quote: number | null;
  /** Where scanning goes on. */
  next: number;
}

type Head =
  | { kind: 'item'; at: number }
  | { kind: 'key'; at: number; key: string; value: number }
  | { kind: 'value'; at: number }
  | { kind: 'other'; at: number };

/** Thrown to give up on a construct the walk does not follow; the parser's own error is used then. */
class GiveUp extends Error {}

const TABS = 'Tabs are not allowed as indentation: indent with spaces';
const spaces = (n: number): string => (n === 1 ? '1 space' : `${n} spaces`);
const indentedBy = (n: number): string => (n === 0 ? 'is not indented' : `is indented by ${spaces(n)}`);
const quoteKey = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 39)}…` : key);
const ownerName = (o: Owner): string => (o.key === null ? 'the list item' : quoteKey(o.key));
const entries = (l: Level): string => (l.kind === 'map' ? 'keys' : 'list items');
const subject = (h: Head): string =>
  h.kind === 'key' ? 'this key' : h.kind === 'item' ? 'this list item' : 'this line';
const fits = (h: Head, l: Level): boolean => (l.kind === 'map' ? h.kind === 'key' : h.kind === 'item');

/**
 * Follows the block structure line by line (open mappings and lists, the columns of their entries) and returns the
 * first line whose indentation fits none of them, with the columns it could have had. Null when the text uses
 * something it does not follow (directives, several documents, explicit keys) or nothing is wrong with indentation.
 */
function indentationFault(text: string): IndentFault | null {
  try {
    return new IndentWalk(text).run();
  } catch (e) {
    if (e instanceof GiveUp) return null;
    throw e;
  }
}

class IndentWalk {
  private readonly stack: Level[] = [];
  private root: { indent: number; offset: number } | null = null;
  /** A key or "-" whose value starts on a later line. */
  private expect: Owner | null = null;
  /** A plain scalar value: deeper lines continue it. */
  private cont: Owner | null = null;
  /** The key or item placed last. */
  private last: Owner | null = null;
  /** The previous line with content, when it was a key or list item. */
  private prev: Entry | null = null;
  /** Inside a block scalar: lines deeper than this belong to it. */
  private block: number | null = null;
  /** Inside a flow collection or a quoted scalar spanning lines. */
  private flow: { state: FlowState; owner: Owner; opener: number } | null = null;
  /** How often each step of indentation (a block's column minus its parent's) was used. */
  private readonly steps = new Map<number, number>();
  /** The current line: its number, start and end. */
  private n = 0;
  private s = 0;
  private e = 0;

  constructor(private readonly text: string) {}

  run(): IndentFault | null {
    const text = this.text;
    for (let s = 0; s <= text.length;) {
      let e = text.indexOf('\n', s);
      if (e === -1) e = text.length;
      this.n++;
      this.s = s;
      this.e = text[e - 1] === '\r' ? e - 1 : e;
      const fault = this.line();
      if (fault) return fault;
      s = e + 1;
    }
    return null;
  }

  private line(): IndentFault | null {
    const { text, s, e } = this;
    let p = s;
    while (p < e && (text[p] === ' ' || text[p] === '\t')) p++;
    let ind = 0;
    while (text[s + ind] === ' ') ind++;
    const tab = p > s + ind ? s + ind : -1;
    if (this.block !== null) {
      if (p === e || ind > this.block) return null;
      this.block = null;
    }
    if (this.flow) return this.flowLine(p, ind, tab);
    if (p === e || text[p] === '#') return null;
    const prev = this.prev;
    this.prev = null;
    if (tab !== -1) return { offset: tab, message: TABS };
    if (text.startsWith('---', p) || text.startsWith('...', p) || text[p] === '%') {
      if (ind === 0 && this.root === null && /^---\s*(#.*)?$/.test(text.slice(p, e))) return null;
      throw new GiveUp();
    }
    const h = this.head(skipProperties(text, p, e));
    if (h.kind === 'other') throw new GiveUp();
    if (this.root === null) {
      if (h.kind === 'value') throw new GiveUp();
      this.root = { indent: ind, offset: h.at };
      return this.open(h, ind, null);
    }
    return this.place(h, ind, prev);
  }

  /** A line of a flow collection or quoted scalar opened on an earlier line. */
  private flowLine(p: number, ind: number, tab: number): IndentFault | null {
    const flow = this.flow!;
    const { text, s, e } = this;
    const inQuote = flow.state.quote !== null;
    if (p === e || (!inQuote && text[p] === '#')) return null;
    const closer = !inQuote && (text[p] === ']' || text[p] === '}');
    if (ind < flow.owner.indent || (ind === flow.owner.indent && !closer)) {
      if (!closesCleanly(text, flow.state, s)) throw new GiveUp(); // never closed: the opener is the mistake
      if (tab !== -1) return { offset: tab, message: TABS };
      return {
        offset: p,
        message:
          `bad indentation: this line continues the ${text[flow.opener]} opened on line ${lineOf(text, flow.opener)}, ` +
          `so it must be indented by at least ${spaces(flow.owner.indent + 1)} (it is ${ind})`,
      };
    }
    if (scanFlow(text, s, e, flow.state) !== -1) this.flow = null;
    return null;
  }

  private place(h: Head, ind: number, prev: Entry | null): IndentFault | null {
    let pending: Owner | null = null;
    if (this.expect) {
      const x = this.expect;
      this.expect = null;
      if (ind > x.indent || (h.kind === 'item' && x.key !== null && ind === x.indent)) return this.open(h, ind, x);
      pending = x;
    }
    if (this.cont) {
      const c = this.cont;
      this.cont = null;
      if (ind > c.indent) {
        if (h.kind === 'key')
          return (
            this.oddPrevious(h, ind, prev) ??
            this.oddFirst(h, ind, this.stack.at(-1), this.stack.at(-2)) ??
            this.oddItem(h, ind, this.stack.at(-1), this.stack.at(-2)) ??
            this.deeperThanValue(c, h, ind)
          );
        this.cont = c; // a plain scalar going on over several lines
        return null;
      }
    }
    const closed: Level[] = [];
    while (this.stack.length > 0 && this.stack.at(-1)!.indent > ind) closed.push(this.stack.pop()!);
    let top = this.stack.at(-1);
    if (!top) {
      const root = this.root!;
      const now = ind === 0 ? 'is not' : `by ${ind}`;
      return {
        offset: root.offset,
        seen: h.at,
        message: `bad indentation: this line ${indentedBy(root.indent)}, but line ${this.n} ${now}: top-level keys start at column 1`,
      };
    }
    if (top.indent < ind) {
      const inner = closed.at(-1);
      if (inner)
        return (
          this.oddFirst(h, ind, inner, top) ??
          this.oddItem(h, ind, inner, top) ??
          this.between(h, ind, inner, top, pending)
        );
      const last = this.last;
      const what = last ? `${ownerName(last)} on line ${last.line} (at ${last.indent})` : `line ${top.line}`;
      return (
        this.oddPrevious(h, ind, prev) ??
        this.oddFirst(h, ind, top, this.stack.at(-2)) ?? {
          offset: h.at,
          message: `bad indentation: ${subject(h)} ${indentedBy(ind)}, more than ${what}, which already has its value`,
        }
      );
    }
    if (top.kind === 'seq' && h.kind !== 'item') {
      if (top.indentless) {
        this.stack.pop();
        top = this.stack.at(-1);
        if (!top || top.kind !== 'map' || top.indent !== ind) throw new GiveUp();
      } else if (h.kind === 'key') {
        const item = closed.at(-1);
        const keysAt = item?.kind === 'map' ? `; the keys of that item go at ${item.indent}` : '';
        return {
          offset: h.at,
          message: `bad indentation: this key ${indentedBy(ind)}, like the "-" on line ${top.line}, but is not a list item${keysAt}`,
        };
      } else throw new GiveUp();
    }
    if (top.kind === 'map' && h.kind === 'item') {
      const seq =
        [...closed].reverse().find((l) => l.kind === 'seq') ??
        [...this.stack].reverse().find((l) => l.kind === 'seq' && l !== top);
      const message = seq
        ? `bad indentation: this list item ${indentedBy(ind)}, but the list items above it are at ${seq.indent} (line ${seq.line})`
        : `bad indentation: this list item is indented like the keys of the mapping it is in (line ${top.line}); a list goes under a key, indented more`;
      return { offset: h.at, message };
    }
    if (h.kind !== 'key' && h.kind !== 'item') throw new GiveUp(); // a scalar where a key is due: the parser says so
    top.line = this.n;
    const emptied = pending?.indent === ind ? pending : null;
    this.prev = { line: this.n, at: h.at, indent: ind, head: h, closed, emptied };
    return h.kind === 'item' ? this.item(h.at, ind) : this.value(h.value, this.owner(h.key, ind, h.at));
  }

  /** Starts a new collection at column `ind` (or a value on a line of its own), under `parent` (null: the root). */
  private open(h: Head, ind: number, parent: Owner | null): IndentFault | null {
    if (h.kind === 'other') throw new GiveUp();
    if (h.kind === 'value') {
      if (!parent) throw new GiveUp();
      return this.value(h.at, parent);
    }
    if (parent) this.steps.set(ind - parent.indent, (this.steps.get(ind - parent.indent) ?? 0) + 1);
    const kind = h.kind === 'item' ? 'seq' : 'map';
    const indentless = parent !== null && ind === parent.indent;
    this.stack.push({
      kind,
      indent: ind,
      first: this.n,
      firstAt: h.at,
      line: this.n,
      child: parent !== null,
      indentless,
    });
    if (parent) this.prev = { line: this.n, at: h.at, indent: ind, head: h, closed: [], emptied: null };
    return h.kind === 'item' ? this.item(h.at, ind) : this.value(h.value, this.owner(h.key, ind, h.at));
  }

  /** The rest of a line after "-" at column `col`: nested items, a compact mapping, or a value. */
  private item(dash: number, col: number): IndentFault | null {
    const { text, e } = this;
    const lineStart = dash - col;
    for (;;) {
      let q = dash + 1;
      while (q < e && (text[q] === ' ' || text[q] === '\t')) q++;
      const tab = text.slice(dash + 1, q).indexOf('\t');
      const owner: Owner = { key: null, indent: col, line: this.n, offset: dash };
      this.last = owner;
      q = skipProperties(text, q, e);
      if (q >= e || text[q] === '#') {
        this.expect = owner;
        return null;
      }
      const h = this.head(q);
      if (h.kind === 'other') throw new GiveUp();
      if (h.kind === 'value') return this.value(q, owner);
      if (tab !== -1) return { offset: dash + 1 + tab, message: TABS };
      col = q - lineStart;
      const level: Level = {
        kind: 'seq',
        indent: col,
        first: this.n,
        firstAt: q,
        line: this.n,
        child: false,
        indentless: false,
      };
      if (h.kind === 'key') {
        this.stack.push({ ...level, kind: 'map' });
        return this.value(h.value, this.owner(h.key, col, q));
      }
      this.stack.push(level);
      dash = q;
    }
  }

  private owner(key: string, indent: number, offset: number): Owner {
    const o = { key, indent, line: this.n, offset };
    this.last = o;
    return o;
  }

  /** The value starting at `v` (after a key's ":" or an item's "-", or on a line of its own), of `owner`. */
  private value(v: number, owner: Owner): null {
    const { text, e } = this;
    v = skipProperties(text, v, e);
    const c = text[v];
    if (v >= e || c === '#') this.expect = owner;
    else if (c === '|' || c === '>') this.block = owner.indent;
    else if (c === '[' || c === '{' || c === '"' || c === "'") {
      const state: FlowState = { openers: [], quote: null, next: v };
      if (scanFlow(text, v, e, state) === -1) this.flow = { state, owner, opener: v };
    } else this.cont = owner;
    return null;
  }

  /** A key indented past a key (or item) whose value is a plain scalar: the parser takes it as more of that value. */
  private deeperThanValue(c: Owner, h: Head, ind: number): IndentFault {
    if (c.key !== null && /^-[^\s-]/.test(c.key))
      return {
        offset: c.offset,
        message: `bad indentation: ${quoteKey(c.key)} is read as a key: a list item needs a space after the "-"`,
      };
    const lineUp = c.key === null ? '' : `; line it up with ${quoteKey(c.key)}`;
    return {
      offset: h.at,
      message: `bad indentation: this key ${indentedBy(ind)}, more than ${ownerName(c)} on line ${c.line} (at ${c.indent}), so it is read as part of its value${lineUp}`,
    };
  }

  private between(h: Head, ind: number, inner: Level, outer: Level, pending: Owner | null): IndentFault {
    const head = `bad indentation: ${subject(h)} ${indentedBy(ind)}`;
    let message: string;
    if (pending && h.kind === 'value')
      message = `${head}; as the value of ${ownerName(pending)} (line ${pending.line}) it must be indented by more than ${pending.indent}`;
    else if (pending)
      message = `${head}, but ${ownerName(pending)} on line ${pending.line} is at ${pending.indent}: indent it more to put it inside, or by ${pending.indent} to follow it`;
    else {
      const up = inner.kind === outer.kind ? '' : ` the ${entries(outer)}`;
      message = `${head}, but the ${entries(inner)} above it are at ${inner.indent} (line ${inner.line}) and${up} one level up at ${outer.indent} (line ${outer.line})`;
    }
    return { offset: h.at, message };
  }

  /**
   * A block's first entry sets the column of the rest, so the parser stops at its second one (indented less, or
   * more). When that one has company at its column below, or the first one is off the step of indentation used
   * elsewhere, the first one is the odd one out.
   */
  private oddFirst(h: Head, ind: number, inner: Level | undefined, outer: Level | undefined): IndentFault | null {
    if (!inner || !outer || !inner.child || inner.first !== inner.line || !fits(h, inner)) return null;
    const more = this.company(h, ind);
    if (!more) {
      const usual = this.usualStep(inner.indent - outer.indent);
      if (usual !== ind - outer.indent || usual === inner.indent - outer.indent) return null;
    }
    const them = more
      ? `the ${entries(inner)} after it (from line ${this.n}) are`
      : `the next ${inner.kind === 'map' ? 'key' : 'list item'} (line ${this.n}) is`;
    return {
      offset: inner.firstAt,
      seen: h.at,
      message: `bad indentation: ${inner.kind === 'map' ? 'this key' : 'this list item'} ${indentedBy(inner.indent)}, but ${them} at ${ind}`,
    };
  }

  /**
   * The line right before, at a column that closed a block or left a key empty, when this line goes on at that
   * block's column (or deeper than the key): the line before is the odd one out.
   */
  private oddPrevious(h: Head, ind: number, prev: Entry | null): IndentFault | null {
    if (!prev || prev.line !== this.n - 1 - this.blankBefore()) return null;
    const what = `bad indentation: ${subject(prev.head)} ${indentedBy(prev.indent)}`;
    const block = prev.closed.find((l) => l.indent === ind && fits(h, l));
    if (block && this.company(h, ind))
      return {
        offset: prev.at,
        seen: h.at,
        message: `${what}, but the ${entries(block)} around it (lines ${block.line} and ${this.n}) are at ${ind}`,
      };
    const x = prev.emptied;
    if (x && ind > x.indent)
      return {
        offset: prev.at,
        seen: h.at,
        message: `${what}, like ${ownerName(x)} on line ${x.line}, which it leaves without a value; the line after it ${indentedBy(ind)}`,
      };
    return null;
  }

  /**
   * The keys of a list item start after its "- "; when the lines below its first one agree on another column, the
   * first line is the odd one out.
   */
  private oddItem(h: Head, ind: number, map: Level | undefined, seq: Level | undefined): IndentFault | null {
    if (!map || !seq || h.kind !== 'key' || map.kind !== 'map' || seq.kind !== 'seq') return null;
    if (map.child || map.first !== map.line || seq.line !== map.first || ind <= seq.indent || ind === map.indent)
      return null;
    if (!this.company(h, ind)) return null;
    return {
      offset: map.firstAt,
      seen: h.at,
      message: `bad indentation: the keys of this list item start at ${map.indent}, but the ones below it (from line ${this.n}) are at ${ind}`,
    };
  }

  /** How many lines right before the current one are blank or comments. */
  private blankBefore(): number {
    let k = 0;
    for (let end = this.s - 1; end > 0; k++) {
      const start = this.text.lastIndexOf('\n', end - 1) + 1;
      const t = this.text.slice(start, end).trim();
      if (t !== '' && !t.startsWith('#')) break;
      end = start - 1;
    }
    return k;
  }

  /**
   * Whether a later line, before the block closes, is also indented by exactly `ind`. Not when this line (`h`) ends
   * with its key or "-": the lines below may be meant as its value.
   */
  private company(h: Head, ind: number): boolean {
    const text = this.text;
    let rest = h.kind === 'key' ? h.value : h.at + 1;
    while (rest < this.e && (text[rest] === ' ' || text[rest] === '\t')) rest++;
    if (h.kind !== 'value' && (rest >= this.e || text[rest] === '#')) return false;
    for (let s = this.e + 1; s < text.length;) {
      let e = text.indexOf('\n', s);
      if (e === -1) e = text.length;
      let i = 0;
      while (text[s + i] === ' ') i++;
      const c = text[s + i];
      if (c === '\t') return false;
      if (s + i < e && c !== '#' && c !== '\r') {
        if (i === ind) return true;
        if (i < ind) return false;
      }
      s = e + 1;
    }
    return false;
  }

  /** The step of indentation used most often so far, not counting one use of `own`. */
  private usualStep(own: number): number | null {
    let best: number | null = null;
    let most = 0;
    for (const [step, count] of this.steps) {
      const n = count - (step === own ? 1 : 0);
      if (n > most || (n === most && best !== null && step < best)) [best, most] = [step, n];
    }
    return most > 0 ? best : null;
  }

  /** What a line holds at `p`: a list item, a key, a value, or something not followed here. */
  private head(p: number): Head {
    const { text, e } = this;
    if (p >= e) return { kind: 'other', at: p }; // only an anchor or tag
    const c = text[p];
    const next = text[p + 1];
    const blankAfter = p + 1 >= e || next === ' ' || next === '\t';
    if (c === '-' && blankAfter) return { kind: 'item', at: p };
    if ((c === '?' || c === ':') && blankAfter) return { kind: 'other', at: p };
    if (c === '[' || c === '{' || c === '|' || c === '>') return { kind: 'value', at: p };
    let j = p;
    if (c === '"' || c === "'") {
      j = closingQuote(text, p, e);
      if (j === -1) return { kind: 'value', at: p };
      j++;
      while (j < e && (text[j] === ' ' || text[j] === '\t')) j++;
      if (text[j] !== ':' || !(j + 1 >= e || text[j + 1] === ' ' || text[j + 1] === '\t'))
        return { kind: 'value', at: p };
    } else {
      for (; j < e; j++) {
        if (text[j] === '#' && j > p && (text[j - 1] === ' ' || text[j - 1] === '\t')) return { kind: 'value', at: p };
        if (text[j] === ':' && (j + 1 >= e || text[j + 1] === ' ' || text[j + 1] === '\t')) break;
      }
      if (j >= e) return { kind: 'value', at: p };
    }
    let v = j + 1;
    while (v < e && (text[v] === ' ' || text[v] === '\t')) v++;
    return { kind: 'key', at: p, key: text.slice(p, j).trim(), value: v };
  }
}

/** Past anchors (&a) and tags (!t) at `p`. */
function skipProperties(text: string, p: number, e: number): number {
  while (p < e && (text[p] === '&' || text[p] === '!')) {
    while (p < e && text[p] !== ' ' && text[p] !== '\t') p++;
    while (p < e && (text[p] === ' ' || text[p] === '\t')) p++;
  }
  return p;
}

/** The closing quote of the quoted scalar opening at `p`, on the same line; -1 when none. */
function closingQuote(text: string, p: number, e: number): number {
  const q = text[p];
  for (let i = p + 1; i < e; i++) {
    if (q === '"' && text[i] === '\\') i++;
    else if (text[i] === q) {
      if (q === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Scans `text[from, to)` for quotes and brackets, updating `state`; returns where everything open is closed again
 * (-1 while something stays open). Comments outside quotes end the scan.
 */
function scanFlow(text: string, from: number, to: number, state: FlowState): number {
  const end = Math.min(to, text.length);
  let i = from;
  for (; i < end; i++) {
    const c = text[i]!;
    if (state.quote !== null) {
      if (text[state.quote] === '"' && c === '\\') i++;
      else if (c === text[state.quote]) {
        if (c === "'" && text[i + 1] === "'") i++;
        else {
          state.quote = null;
          if (state.openers.length === 0) {
            state.next = i + 1;
            return i;
          }
        }
      }
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < to && text[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]!))) state.quote = i;
    else if (c === '[' || c === '{') state.openers.push(i);
    else if ((c === ']' || c === '}') && state.openers.length > 0) {
      state.openers.pop();
      if (state.openers.length === 0) {
        state.next = i + 1;
        return i;
      }
    }
  }
  state.next = i;
  return -1;
}

/**
 * Whether what is open in `state` is closed later in the file: a quote by one that ends its line (a quote further
 * inside a line more likely opens a new string).
 */
function closesCleanly(text: string, state: FlowState, from: number): boolean {
  const copy: FlowState = { openers: [...state.openers], quote: state.quote, next: from };
  const quoted = copy.openers.length === 0;
  const end = scanFlow(text, from, text.length, copy);
  if (end === -1) return false;
  if (!quoted) return true;
  const eol = text.indexOf('\n', end);
  return /^\s*(#.*)?$/.test(text.slice(end + 1, eol === -1 ? text.length : eol));
}
