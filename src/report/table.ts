/** Left-aligned text columns, two spaces apart; the last column is never padded. */
export function textTable(header: string[], rows: string[][], indent = '  '): string {
  return [...textTableLines(header, rows, indent)].join('\n');
}

/** textTable's lines, made one at a time (a table of a million rows is better written as it is made). */
export function* textTableLines(header: string[], rows: string[][], indent = '  '): Generator<string> {
  // A loop, not Math.max(...rows): a million rows are more arguments than a call may take.
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), h.length));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  yield line(header);
  for (const r of rows) yield line(r);
}

/** A Markdown table; pipes in cells are escaped. */
export function markdownTable(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function shortImageId(id: string): string {
  return id.startsWith('sha256:') ? id.slice(7, 19) : id.slice(0, 12);
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
