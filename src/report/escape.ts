/**
 * Text that came from outside (engine names and errors, labels, references, policy names) made safe to show:
 * on a terminal, no control character or reordering mark can act; in Markdown, no character can format, link or
 * open HTML.
 */

// C0 and C1 controls other than tab and newline (escape sequences, BEL, carriage return), and the Unicode marks
// that reorder text (RLO and friends).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Control characters as \uXXXX: readable on a terminal, and the same escape JSON strings use. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Plain text in Markdown, mid-line: the characters that format or link escaped, and HTML's three as entities
 * ("|" is left to the table that holds it).
 */
export function markdownText(text: string): string {
  return escapeControls(text)
    .replace(/[\\`*_[\]~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A code span that holds any text: its fence is longer than any run of backticks in it. */
export function markdownCode(text: string): string {
  const safe = escapeControls(text);
  const longest = (safe.match(/`+/g) ?? []).reduce((n, run) => Math.max(n, run.length), 0);
  const fence = '`'.repeat(longest + 1);
  const pad = safe.startsWith('`') || safe.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${safe}${pad}${fence}`;
}
