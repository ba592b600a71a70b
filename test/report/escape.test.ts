import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeControls, markdownCode, markdownText } from '../../src/report/escape.js';
import { runCli } from '../support/cli.js';

const ESC = '\u001b';
const BEL = '\u0007';
const RLO = '\u202e';

describe('escapeControls', () => {
  it('shows control characters and reordering marks as \\uXXXX, and leaves the rest', () => {
    expect(escapeControls(`a${ESC}]0;x${BEL}b\rc${RLO}d\u0085e`)).toBe('a\\u001b]0;x\\u0007b\\u000dc\\u202ed\\u0085e');
    expect(escapeControls('tab\tnew\nline é 中 ✓')).toBe('tab\tnew\nline é 中 ✓');
  });
});

describe('Markdown', () => {
  it('text cannot format, link or open HTML', () => {
    expect(markdownText('<img src=x onerror=alert(1)> [a](http://x) *b* _c_ `d` ~e~ a&b')).toBe(
      '&lt;img src=x onerror=alert(1)&gt; \\[a\\](http://x) \\*b\\* \\_c\\_ \\`d\\` \\~e\\~ a&amp;b',
    );
  });

  it('a code span holds backticks and controls', () => {
    expect(markdownCode('app:1')).toBe('`app:1`');
    expect(markdownCode('a``b')).toBe('```a``b```');
    expect(markdownCode('`x')).toBe('`` `x ``');
    expect(markdownCode(`x${ESC}y`)).toBe('`x\\u001by`');
  });
});

describe('what reaches the output from outside is escaped', () => {
  let dir: string;
  let inventory: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-escape-'));
    const inv = JSON.parse(await readFile('examples/inventory.json', 'utf8')) as {
      engine: { name: string };
      images: { labels: Record<string, string>; repoTags: string[] }[];
    };
    inv.engine.name = `evil${ESC}]0;owned${BEL}${RLO}host`;
    inv.images[0]!.labels['note'] = `<script>alert(1)</script>${ESC}[2J`;
    inventory = join(dir, 'inventory.json');
    await writeFile(inventory, JSON.stringify(inv));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('plan as text: the engine name arrives with its controls shown, none acting', async () => {
    const r = await runCli(['plan', '-p', 'policies/ci-runner.yaml', '--inventory', inventory]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('evil\\u001b]0;owned\\u0007\\u202ehost');
    for (const c of [ESC, BEL, RLO]) expect(r.stdout).not.toContain(c);
  });

  it('plan as Markdown: no HTML, no controls', async () => {
    const r = await runCli(['plan', '-p', 'policies/ci-runner.yaml', '--inventory', inventory, '--format', 'markdown']);
    expect(r.code, r.stderr).toBe(0);
    // The \uXXXX's backslash is escaped too: it renders as written.
    expect(r.stdout).toContain('evil\\\\u001b\\]0;owned\\\\u0007\\\\u202ehost');
    for (const c of [ESC, BEL, RLO]) expect(r.stdout).not.toContain(c);
  });

  it('explain: a label value from the engine arrives escaped', async () => {
    const inv = JSON.parse(await readFile(inventory, 'utf8')) as { images: { repoTags: string[] }[] };
    const ref = inv.images[0]!.repoTags[0]!;
    const r = await runCli(['explain', ref, '-p', 'policies/ci-runner.yaml', '--inventory', inventory]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('<script>alert(1)</script>\\u001b[2J');
    expect(r.stdout).not.toContain(ESC);
  });
});
