import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/inventory/types.js';
import { evaluatePolicy } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import {
  ageBuckets,
  BUCKETS,
  fates,
  gauges,
  imageTimesOf,
  pageSection,
  repositoryBars,
  UNTAGGED,
  type HtmlReportInput,
} from '../../src/report/html/data.js';
import { packSections } from '../../src/report/html/pack.js';
import { embedJson, formatPlanHtml } from '../../src/report/html/page.js';
import { container, idOf, image, inventory, layered, NOW, policy } from '../support/builders.js';
import { runCli } from '../support/cli.js';
import { syntheticReport } from './html-fixture.js';

const MB = 1_000_000;

function report(yaml: string, images: ImageRecord[], extra: Parameters<typeof inventory>[2] = {}): HtmlReportInput {
  const inv = inventory(layered(images), [container('web', 'kept1', 'running')], extra);
  const { plan, facts } = evaluatePolicy({ policy: policy(`version: 1\n${yaml}`), inventory: inv, now: NOW });
  return { plan, images: imageTimesOf(facts) };
}

// One image per age bucket: deleted, untagged (one reference goes, a protected one stays) and kept.
const AGES = [
  image('del1', { tags: ['app:1'], age: '30m' }),
  image('del2', { tags: ['app:2'], age: '2h' }),
  image('unt', { tags: ['app:3', 'lib:keep'], age: '3d' }),
  image('kept1', { tags: ['other:1'], age: '10d' }),
  image('kept2', { tags: ['app:keep'], age: '20d' }),
  image('bare', { age: '60d' }),
  image('ancient', { tags: ['lib:9'], age: '200d' }),
];
const AGES_POLICY = `protect: { tags: ["keep"] }\nrules:\n  - name: old\n    match: { repositories: ["app", "lib"] }\n`;

describe('the page data', () => {
  it('gives every image its fate: deleted before untagged before kept', () => {
    const { plan } = report(AGES_POLICY, AGES);
    const fate = Object.fromEntries([...fates(plan)].map(([id, f]) => [id, f.fate]));
    expect(fate).toEqual({
      [idOf('del1')]: 'deleted',
      [idOf('del2')]: 'deleted',
      [idOf('ancient')]: 'deleted',
      [idOf('unt')]: 'untagged',
      [idOf('kept1')]: 'kept',
      [idOf('kept2')]: 'kept',
      [idOf('bare')]: 'kept',
    });
  });

  it('counts images per age and last-use bucket by fate (a running container is a use now)', () => {
    const { plan, images } = report(AGES_POLICY, AGES);
    const { created, lastUsed } = ageBuckets(plan, images!);
    // [deleted, untagged, kept] per bucket: < 1 h, 1 h–1 d, 1–7 d, 1–2 w, 2–4 w, 4–13 w, ≥ 13 w.
    expect(created).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 0, 1],
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(lastUsed[0]).toEqual([1, 0, 1]);
    expect(lastUsed[3]).toEqual([0, 0, 0]);
    expect(BUCKETS).toHaveLength(created.length);
  });

  it('shows the top 20 repositories by bytes reclaimed, then one bar for the rest', () => {
    const images = Array.from({ length: 25 }, (_, i) =>
      image(`r${i}`, { tags: [`repo${String(i).padStart(2, '0')}:1`], size: (i + 1) * MB }),
    );
    images.push(image('kept-a', { tags: ['repo00:keep'], size: 7 * MB }), image('lonely', { size: 3 * MB }));
    const { plan, images: times } = report(
      `protect: { tags: ["keep"] }\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n`,
      images,
    );
    const bars = repositoryBars(plan, times);
    expect(bars).toHaveLength(21);
    // Largest first: repo24 reclaims 25 MB.
    expect(bars.slice(0, 3).map((b) => [b.name, b.reclaim])).toEqual([
      ['repo24', 25 * MB],
      ['repo23', 24 * MB],
      ['repo22', 23 * MB],
    ]);
    // The rest: repo04..repo00 (5, 4, 3, 2, 1 MB) and the untagged image (kept: nothing selects it).
    const rest = bars[20]!;
    expect(rest).toEqual({ name: '6 other repositories', reclaim: 15 * MB, kept: 10 * MB, images: 7, rest: 6 });
    const all = repositoryBars(plan, times, 100);
    expect(all.find((b) => b.name === 'repo00')).toEqual({ name: 'repo00', reclaim: MB, kept: 7 * MB, images: 2 });
    expect(all.find((b) => b.name === UNTAGGED)).toEqual({ name: UNTAGGED, reclaim: 0, kept: 3 * MB, images: 1 });
    // One repository left over is shown as itself, not as a group of one.
    expect(repositoryBars(plan, times, 25).some((b) => b.rest !== undefined)).toBe(false);
    expect(repositoryBars(plan, times, 19).at(-1)!.rest).toBe(7);
  });

  it('places the disk gauge: now, watermark, target and after the plan', () => {
    const images = [image('a', { tags: ['a:1'], size: 40 * MB }), image('b', { tags: ['b:1'], size: 60 * MB })];
    const { plan } = report(
      `rules:\n  - name: a\n    match: { repositories: ["a"] }\ndisk: { maxUsage: 50%, targetUsage: 30%, maxImageBytes: 90MB, targetImageBytes: 80MB }\n`,
      images,
      { disk: { totalBytes: 200 * MB, usedBytes: 120 * MB, availableBytes: 80 * MB, path: '/var/lib/docker' } },
    );
    expect(gauges(plan)).toEqual([
      // 120 of 200 MB; a's 40 MB go by rule, then b's 60 MB by eviction: 20 MB left.
      { measure: 'usage', now: 0.6, limit: 0.5, target: 0.3, after: 0.1 },
      { measure: 'image-bytes', now: 100 * MB, limit: 90 * MB, target: 80 * MB, after: 0 },
    ]);
    expect(gauges({ ...plan, disk: null })).toEqual([]);
  });

  it('maps the summary and every table (a plan alone: no times, no kept sizes)', () => {
    const { plan } = report(AGES_POLICY, AGES);
    const s = pageSection({ plan });
    expect(s.summary).toMatchObject({
      images: 7,
      deletes: 3,
      untags: 1,
      kept: 4,
      bytes: 3 * 100 * MB,
      cacheBytes: null,
    });
    expect(s.ages).toBeNull();
    expect(s.keptSizes).toBe(false);
    expect(s.tables.map((t) => [t.key, t.rows.length])).toEqual([
      ['deletes', 3],
      ['untags', 1],
      ['containers', 0],
      ['kept', 4],
    ]);
    expect(s.tables[1]!.rows[0]).toEqual(['app:3', idOf('unt').slice(7), 'old']);
    const kept = s.tables[3]!.rows.find((r) => r[0] === idOf('kept2').slice(7));
    expect(kept).toEqual([idOf('kept2').slice(7), ['app:keep'], 'tag keep (protect.tags)']);
    const full = pageSection(report(AGES_POLICY, AGES));
    expect(full.tables[0]!.columns.map((c) => c.name)).toEqual([
      'Image',
      'References',
      'Rule',
      'Est. size',
      'Created',
      'Last used',
    ]);
  });

  it('packs each ID and text once, and times as seconds before the plan', () => {
    const section = pageSection(report(AGES_POLICY, AGES));
    const { strings, sections } = packSections([section]);
    expect(new Set(strings).size).toBe(strings.length);
    const deletes = sections[0]!.tables[0]!;
    const row = deletes.rows.find((r) => strings[r[0] as number] === idOf('del1').slice(7))!;
    expect([strings[row[2] as number], row[4], row[5]]).toEqual(['old', 1800, 1800]);
  });
});

const EVIL = '</script><img src=x onerror=alert(1)><!-- <script>alert(2)</script>';

function evilPlan(plan: Plan): Plan {
  return {
    ...plan,
    engine: { ...plan.engine, name: `host ${EVIL}` },
    policy: { ...plan.policy, name: `policy ${EVIL}` },
    actions: plan.actions.map((a) => ({ ...a, rule: `rule ${EVIL}`, ...(a.ref ? { ref: `app:${EVIL}` } : {}) })),
    kept: plan.kept.map((k) => ({
      ...k,
      refs: [...k.refs, `ref ${EVIL}`],
      reason: 'protected-label',
      protection: { kind: 'labels', pattern: `com.acme/${EVIL}` },
    })),
  };
}

/** The embedded JSON, read back as the page's script reads it. */
function embedded(html: string): { strings: string[] } {
  const m = /<script type="application\/json" id="imgsweep-data">([^<]*)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as { strings: string[] };
}

describe('the document', () => {
  it('keeps engine strings out of the markup: no </script>, <!-- or tag can break out of the data', () => {
    const { plan, images } = report(AGES_POLICY, AGES);
    const html = formatPlanHtml({ plan: evilPlan(plan), images });
    // Exactly the page's own two scripts, and no comment, image or handler anywhere.
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).not.toContain('<!--');
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<[a-z][^>]*\son\w+=/i);
    // The strings survive intact for the page's script, which sets them as text.
    const { strings } = embedded(html);
    expect(strings).toContain(`rule ${EVIL}`);
    expect(strings).toContain(`label com.acme/${EVIL} (protect.labels)`);
    expect(JSON.stringify(embedded(html))).toContain(`app:${EVIL}`);
    expect(html).toContain('<title>imgsweep plan: host &#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;');
  });

  it('escapes what could end or open markup in the embedded JSON, and it reads back the same', () => {
    const value = { s: `a</script>b<!--c-->&d\u2028e\u2029f` };
    const text = embedJson(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('names no external URL: no http(s) address, src or href; a policy allows only its own script and style', () => {
    const html = formatPlanHtml(report(AGES_POLICY, AGES));
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\s(src|href|action|srcset|poster|data)=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);
  });

  it('makes one page with a section per engine', () => {
    const a = report(AGES_POLICY, AGES);
    const b = { ...a, plan: { ...a.plan, engine: { ...a.plan.engine, name: 'second' } } };
    const html = formatPlanHtml([a, b]);
    expect(html).toContain('<title>imgsweep plan: test-host, second</title>');
    expect((embedded(html) as unknown as { sections: unknown[] }).sections).toHaveLength(2);
  });

  it('stays under 5 MB for 10,000 images', async () => {
    const big = await syntheticReport(10_000);
    const html = formatPlanHtml(big);
    const bytes = Buffer.byteLength(html);
    expect(bytes).toBeLessThan(5_000_000);
    expect(big.plan.summary.images).toBe(10_000);
    const { sections } = embedded(html) as unknown as { sections: { tables: { rows: unknown[] }[] }[] };
    // Every step and every kept image is in it.
    const rows = sections[0]!.tables.map((t) => t.rows.length).reduce((x, y) => x + y, 0);
    expect(rows).toBe(big.plan.actions.length + big.plan.kept.length);
  });
});

describe('imgsweep plan --format html', () => {
  it('writes the page to stdout, and -o still writes the JSON plan', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgsweep-html-'));
    try {
      const out = join(dir, 'plan.json');
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
        '-o',
        out,
      ]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^<!doctype html>\n/);
      expect(r.stdout).toContain('<title>imgsweep plan: ci-runner-07</title>');
      expect((JSON.parse(await readFile(out, 'utf8')) as Plan).kind).toBe('imgsweep-plan');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
