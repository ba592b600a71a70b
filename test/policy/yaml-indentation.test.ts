/**
 * Indentation mistakes are reported on the line to change, with the columns that would fit there, whatever line the
 * YAML parser itself stopped at.
 */
import { describe, expect, it } from 'vitest';
import type { PolicyProblem } from '../../src/policy/problems.js';
import { parseYamlSource } from '../../src/policy/yaml-source.js';

function problemsOf(text: string): PolicyProblem[] {
  const r = parseYamlSource(text, 'p.yaml');
  if (!('problems' in r)) throw new Error('expected problems, the text parsed');
  return r.problems;
}

function first(text: string): { at: string; message: string } {
  const p = problemsOf(text)[0]!;
  return { at: `${p.line}:${p.col}`, message: p.message };
}

const lines = (...l: string[]): string => `${l.join('\n')}\n`;

describe('indentation mistakes', () => {
  it.each([
    {
      what: 'a key between the columns of two open mappings',
      text: lines('a:', '  b:', '    c: 1', '   d: 2'),
      at: '4:4',
      message:
        'this key is indented by 3 spaces, but the keys above it are at 4 (line 3) and one level up at 2 (line 2)',
    },
    {
      what: 'a key deeper than a key with a scalar value',
      text: lines('a:', '  b: 1', '    c: 2'),
      at: '3:5',
      message: 'more than "b" on line 2 (at 2), so it is read as part of its value; line it up with "b"',
    },
    {
      what: 'a key deeper than a key whose flow value is complete',
      text: lines('a:', '  b: [1, 2]', '    c: 2'),
      at: '3:5',
      message: 'more than "b" on line 2 (at 2), which already has its value',
    },
    {
      what: 'a list item deeper than a finished list item',
      text: lines('a:', '  - "x"', '    - "y"'),
      at: '3:5',
      message: 'this list item is indented by 4 spaces, more than the list item on line 2 (at 2)',
    },
    {
      what: 'a value on the next line not indented past its key',
      text: lines('a:', '  b:', ' c'),
      at: '3:2',
      message: 'as the value of "b" (line 2) it must be indented by more than 2',
    },
    {
      what: 'a list item at the column of the keys it is among',
      text: lines('a:', '  b: 1', '  - c'),
      at: '3:3',
      message: 'this list item is indented like the keys of the mapping it is in (line 2)',
    },
    {
      what: 'a tab after "-" before a key',
      text: lines('a:', '  -\tb: 1'),
      at: '2:4',
      message: 'Tabs are not allowed as indentation',
    },
    {
      what: 'Windows line ends',
      text: 'a:\r\n  b: 1\r\n   c: 2\r\n',
      at: '3:4',
      message: 'more than "b" on line 2 (at 2)',
    },
  ])('$what', ({ text, at, message }) => {
    const p = first(text);
    expect(p.at, p.message).toBe(at);
    expect(p.message).toContain(message);
  });

  it('follows block scalars, multi-line flows and scalars, comments and indentless lists before the mistake', () => {
    const text = lines(
      'version: 1',
      'description: |',
      '  text at 2',
      '',
      '      text at 6',
      '# a comment at column 1',
      'protect:',
      '  tags: [',
      '    "a",',
      '    "b: c"',
      '  ]',
      '  labels: { x: 1,',
      '     y: 2 }',
      'rules:',
      '- name: a',
      '  description: a plain scalar',
      '    over two lines',
      '        # a comment deeper than anything',
      '  match: &m',
      '    tags: ["x"]',
      '- name: b',
      '  match: *m',
      '   olderThan: 3d',
    );
    const p = first(text);
    expect(p.at, p.message).toBe('23:4');
    expect(p.message).toContain('this key is indented by 3 spaces');
  });

  it('reports the first line of a block when the lines after it agree on another column', () => {
    const p = first(lines('a:', '    b: 1', '  c: 2', '  d: 3'));
    expect(p.at, p.message).toBe('2:5');
    expect(p.message).toContain('this key is indented by 4 spaces, but the keys after it (from line 3) are at 2');
  });

  it('reports the second line of a two-line block when the step used elsewhere does not settle it', () => {
    const p = first(lines('a:', '    b: 1', '  c: 2'));
    expect(p.at, p.message).toBe('3:3');
  });

  it('reports a line that closes a block when the lines after it go on at that block column', () => {
    const p = first(lines('a:', '  b: 1', 'c: 2', '  d: 3', '  e: 4'));
    expect(p.at, p.message).toBe('3:1');
    expect(p.message).toContain('this key is not indented, but the keys around it (lines 2 and 4) are at 2');
  });

  it('reports the first key of a list item when the keys below it agree on another column', () => {
    const p = first(lines('a:', '  -  b: 1', '    c: 2', '    d: 3'));
    expect(p.at, p.message).toBe('2:6');
    expect(p.message).toContain('the keys of this list item start at 5, but the ones below it (from line 3) are at 4');
  });

  it('still reports a bracket that is never closed where it opens', () => {
    const p = first(lines('a:', '  b: [1, 2', 'c: 3'));
    expect(p.at, p.message).toBe('2:6');
    expect(p.message).toContain('unclosed bracket');
  });

  it('reports a quoted string continued too far left, when its closing quote ends a line', () => {
    const p = first(lines('a:', '  b: "one', '  two"', 'c: 1'));
    expect(p.at, p.message).toBe('3:3');
    expect(p.message).toContain('continues the " opened on line 2, so it must be indented by at least 3 spaces');
  });

  it('reports a quote as unclosed when the next quote opens another string', () => {
    const p = first(lines('a: "one', 'b: "two"'));
    expect(p.at, p.message).toBe('1:4');
    expect(p.message).toContain('unclosed quote');
  });

  it('places the unclosed bracket of each document on its own line', () => {
    const problems = problemsOf(lines('a: [1', '---', 'b: {x: [2', '---', 'c: "3'));
    const syntax = problems.filter((p) => p.code === 'syntax').map((p) => `${p.line}:${p.col}`);
    expect(syntax).toEqual(['1:4', '3:8', '5:4']);
  });

  it('leaves mistakes that are not about indentation to the parser', () => {
    const p = first(lines('a: 1', 'b: c: d'));
    expect(p.message).toMatch(/^YAML syntax error: /);
  });
});
