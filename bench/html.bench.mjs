/**
 * The HTML report at 10,000 images (synthetic.mjs, planned with policies/ci-runner.yaml): its size, the time to
 * make it (dist/report/html/page.js), and its render time in Debian's headless chromium (playwright-core): from
 * navigation start to the page's rendered marker, set once its first frame is painted; the median of several loads.
 * Targets: under 5 MB, rendered in under 2 s.
 *
 *   node bench/html.bench.mjs [--images 10000] [--runs 5]     (after npm run build; needs /usr/bin/chromium)
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { evaluatePolicy } from '../dist/plan/plan.js';
import { loadPolicyFile } from '../dist/policy/load.js';
import { formatPlanHtml, imageTimesOf } from '../dist/report/html/page.js';
import { emitResults, log, median, row, timeRuns } from './result.mjs';
import { NOW, syntheticInventory } from './synthetic.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const IMAGES = Number(opt('--images', 10_000));
const RUNS = Number(opt('--runs', 5));
const CHROMIUM = '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  log("html bench: chromium not found at /usr/bin/chromium: install Debian's chromium");
  process.exit(1);
}
const loaded = await loadPolicyFile(new URL('../policies/ci-runner.yaml', import.meta.url).pathname);
if (!loaded.ok) throw new Error('policies/ci-runner.yaml is invalid');
const { plan, facts } = evaluatePolicy({ policy: loaded.policy, inventory: syntheticInventory(IMAGES, 1), now: NOW });
const input = { plan, images: imageTimesOf(facts) };
log(`html bench: ${IMAGES} images, ${RUNS} loads`);
const made = timeRuns(RUNS, () => formatPlanHtml(input));
const html = made.result;
const mb = Buffer.byteLength(html) / 1e6;

// Chromium's profile and temp files, and playwright's, all in one folder removed at the end.
const dir = await mkdtemp(join(tmpdir(), 'imgsweep-html-bench-'));
process.env.TMPDIR = join(dir, 'tmp');
await mkdir(process.env.TMPDIR);
let browser;
let version = 'unknown';
const times = [];
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir },
  });
  const file = join(dir, 'report.html');
  await writeFile(file, html);
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  for (let i = 0; i < RUNS; i++) {
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered]', { state: 'attached', timeout: 30_000 });
    times.push(Number(await page.evaluate('document.body.dataset.rendered')));
  }
  version = browser.version();
} finally {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
}
log(`render times: ${times.join(', ')} ms`);
emitResults(
  'html',
  [
    row(`html report of ${IMAGES} images: size`, mb, 'MB', { max: 5 }),
    row(`html report of ${IMAGES} images: rendered in chromium (median of ${RUNS})`, median(times), 'ms', {
      max: 2000,
    }),
    row(`html report of ${IMAGES} images: first load`, times[0], 'ms'),
    row(`html report of ${IMAGES} images: made (formatPlanHtml)`, made.median, 'ms'),
  ],
  [
    `${plan.summary.deletes} deletes, ${plan.summary.untags} untags, ${plan.summary.removeContainers} container removals, ${plan.summary.kept} kept; render: navigation start to the page's marker after its first painted frame`,
  ],
  { engine: `chromium ${version}` },
);
