/**
 * The plan as one self-contained HTML page: the data embedded once as JSON, drawn by an inline script into SVG
 * charts and sortable tables. It loads nothing: a Content-Security-Policy allows only its own script and style.
 */
import { createHash } from 'node:crypto';
import { pageSection, type HtmlReportInput } from './data.js';
import { packSections } from './pack.js';
import { SCRIPT } from './script.js';
import { STYLE } from './style.js';

export { imageTimesOf, type HtmlReportInput, type ImageTimes } from './data.js';

/** Text in HTML markup (element content or a quoted attribute). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that can sit in a <script> element: no "<" (so no "</script>" or "<!--"), ">" or "&" in it, and no line
 * separators; each as its \u escape, which JSON.parse reads back as the same character.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const POLICY = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; base-uri 'none'; form-action 'none'`;

/** One engine's plan, or several (a section each). */
export function formatPlanHtml(input: HtmlReportInput | readonly HtmlReportInput[]): string {
  const inputs = Array.isArray(input) ? (input as readonly HtmlReportInput[]) : [input as HtmlReportInput];
  const sections = inputs.map(pageSection);
  const title = `imgsweep plan: ${sections.map((s) => s.engine).join(', ')}`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${POLICY}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="imgsweep">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<header class="top"><h1>imgsweep plan</h1>',
    '<input id="search" type="search" placeholder="Filter by reference, image ID or rule" aria-label="Filter every table by reference, image ID or rule">',
    '<span id="matches" class="matches"></span></header>',
    '<main><noscript>This report draws its charts and tables with JavaScript.</noscript></main>',
    `<script type="application/json" id="imgsweep-data">${embedJson(packSections(sections))}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
