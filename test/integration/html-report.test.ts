/**
 * The HTML report in a real browser: Debian's chromium, driven by playwright-core. npm test installs chromium as
 * root (scripts/ensure-engine.mjs); without it this file fails, as the engine tests do (skipped only with them).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPlanHtml } from '../../src/report/html/page.js';
import { runCli } from '../support/cli.js';
import { engineTestsSkipped } from '../support/dockerd.js';
import { syntheticReport } from '../report/html-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_NOT_FOUND =
  "chromium not found at /usr/bin/chromium: install Debian's chromium (apt-get install -y --no-install-recommends chromium; " +
  'npm test installs it as root) or set IMGSWEEP_SKIP_ENGINE_TESTS=1';
const ARTIFACTS = 'test-artifacts';
/** What chromium and playwright put in the temp folder: none of it may be left there. */
const BROWSER_LEFTOVERS = /chrom|playwright|scoped_dir|\.pki/i;

describe.skipIf(engineTestsSkipped())('the HTML report in headless chromium', () => {
  const temps = [...new Set(['/tmp', tmpdir()])];
  let before: Map<string, Set<string>>;
  let savedTmp: string | undefined;
  let dir: string;
  let browser: Browser;
  let example: string;
  let big: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM_NOT_FOUND);
    before = new Map(temps.map((t) => [t, new Set(readdirSync(t))]));
    dir = await mkdtemp(join(tmpdir(), 'imgsweep-html-'));
    // playwright makes its profile and artifact folders in this process's temp folder, chromium its own files in
    // its TMPDIR and HOME: all of them inside dir.
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = join(dir, 'tmp');
    await mkdir(join(dir, 'tmp'));
    await mkdir(join(dir, 'home'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      env: { ...process.env, HOME: join(dir, 'home'), TMPDIR: join(dir, 'tmp'), XDG_CONFIG_HOME: join(dir, 'home') },
    });
    const r = await runCli([
      'plan',
      '-p',
      'policies/ci-runner.yaml',
      '--inventory',
      'examples/inventory.json',
      '--now',
      '2026-11-27T12:00:00Z',
      '--format',
      'html',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    example = join(dir, 'example.html');
    await writeFile(example, r.stdout);
    await mkdir(ARTIFACTS, { recursive: true });
    big = join(dir, 'big.html');
    await writeFile(big, formatPlanHtml(await syntheticReport(10_000)));
  });

  afterAll(async () => {
    await browser?.close();
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    if (dir) await rm(dir, { recursive: true, force: true });
    if (!before) return;
    const left = temps.flatMap((t) =>
      readdirSync(t)
        .filter((name) => !before.get(t)?.has(name) && BROWSER_LEFTOVERS.test(name))
        .map((name) => join(t, name)),
    );
    expect(left).toEqual([]);
  });

  /** Opens a report; fails on any request other than the file itself, and on any script error. */
  async function open(file: string): Promise<{ page: Page; renderedMs: number; requests: string[]; errors: string[] }> {
    const url = pathToFileURL(file).href;
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.route('**', (route) => (route.request().url() === url ? route.continue() : route.abort()));
    await page.goto(url);
    // Set by the page once its first frame is painted: milliseconds since navigation started. (Waits go by
    // selector: the page's policy forbids the string evaluation waitForFunction uses; and expressions are strings
    // here, as this project's types have no DOM.)
    await page.waitForSelector('body[data-rendered]', { state: 'attached', timeout: 30_000 });
    const renderedMs = Number(await page.evaluate('document.body.dataset.rendered'));
    return { page, renderedMs, requests, errors };
  }

  /** One column of a table's shown rows: the cells' text, or their titles (a full ID, every reference). */
  const column = async (page: Page, table: string, index: number, what: 'textContent' | 'title' = 'textContent') =>
    page.evaluate<string[]>(
      `[...document.querySelectorAll('[data-table="${table}"] tbody tr')].map((r) => r.children[${index}].${what})`,
    );
  const cellTexts = (page: Page, table: string, index: number) => column(page, table, index);
  const titles = (page: Page, table: string, index: number) => column(page, table, index, 'title');

  it('draws the charts and the tables of the example plan, loads nothing else, and is saved as a screenshot', async () => {
    const { page, requests, errors } = await open(example);
    expect(errors).toEqual([]);
    const charts = await page.evaluate<{ kind: string; shapes: number; width: number; height: number }[]>(
      `[...document.querySelectorAll('svg.chart')].map((s) => ({
        kind: s.getAttribute('class'),
        shapes: s.querySelectorAll('rect').length,
        width: s.getBoundingClientRect().width,
        height: s.getBoundingClientRect().height,
      }))`,
    );
    expect(charts.map((c) => c.kind)).toEqual(['chart gauge', 'chart repositories', 'chart buckets', 'chart buckets']);
    for (const c of charts) {
      expect(c.shapes).toBeGreaterThan(0);
      expect(c.width * c.height).toBeGreaterThan(0);
    }
    expect(await page.textContent('h2')).toBe('Engine ci-runner-07');
    expect(await page.textContent('[data-table="deletes"] summary')).toBe('Delete (43)');
    await page.screenshot({ path: join(ARTIFACTS, 'html-report.png'), fullPage: true });
    expect(requests).toEqual([pathToFileURL(example).href]);
    await page.close();
  });

  it('sorts a column when its header is clicked, and back the other way', async () => {
    const { page } = await open(example);
    const ids = await titles(page, 'deletes', 0);
    const sorted = [...ids].sort();
    expect(ids).not.toEqual(sorted);
    await page.click('[data-table="deletes"] thead th:nth-child(1) button');
    expect(await titles(page, 'deletes', 0)).toEqual(sorted);
    expect(await page.getAttribute('[data-table="deletes"] thead th:nth-child(1)', 'aria-sort')).toBe('ascending');
    await page.click('[data-table="deletes"] thead th:nth-child(1) button');
    expect(await titles(page, 'deletes', 0)).toEqual([...sorted].reverse());
    await page.close();
  });

  it('filters every table by the search box: rule, reference and full image ID', async () => {
    const { page } = await open(example);
    // The page marks the search it has applied (it waits for typing to pause).
    const search = async (text: string) => {
      await page.fill('#search', text);
      await page.waitForSelector(`body[data-filtered=${JSON.stringify(text.toLowerCase())}]`, { state: 'attached' });
    };
    await search('dangling');
    const rules = await cellTexts(page, 'deletes', 2);
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules)).toEqual(new Set(['dangling']));
    expect(await cellTexts(page, 'untags', 0)).toEqual([]);
    expect(await page.textContent('[data-table="deletes"] summary')).toMatch(/^Delete \(\d+ of 43\)$/);

    await search('registry.acme.io/ci/app:pr-102');
    expect(await cellTexts(page, 'deletes', 1)).toEqual(['registry.acme.io/ci/app:pr-102']);

    const [id] = await titles(page, 'deletes', 0);
    await search(`sha256:${id!}`);
    expect(await titles(page, 'deletes', 0)).toEqual([id]);

    await search('');
    expect(await page.textContent('[data-table="deletes"] summary')).toBe('Delete (43)');
    await page.close();
  });

  // How fast it renders is measured by bench/html.bench.mjs (a timed test would measure the machine's load).
  it('renders 10,000 images, with no request leaving the page, and stays usable', async () => {
    const { page, requests, errors } = await open(big);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(big).href]);
    await page.screenshot({ path: join(ARTIFACTS, 'html-report-10k.png') });
    // Each table shows its first rows; the rest come with "Show more". Kept images start folded.
    expect(await page.locator('[data-table="kept"] tbody tr').count()).toBe(200);
    await page.click('[data-table="kept"] summary');
    await page.click('[data-table="kept"] .more button');
    expect(await page.locator('[data-table="kept"] tbody tr').count()).toBe(400);
    await page.close();
  });
});
