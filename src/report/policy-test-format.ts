/** Policy test results as text (a terminal, a CI log) or JUnit XML (what CI systems read). Pure. */
import { formatProblem, type PolicyProblem } from '../policy/problems.js';
import type { Verdict } from '../policytest/check.js';
import type { Expectation } from '../policytest/load.js';
import { formatBytes } from './bytes.js';
import { escapeControls } from './escape.js';

/** One test file's outcome: its verdicts, or why it could not run (a bad test file, policy or inventory). */
export interface FileOutcome {
  file: string;
  name: string;
  verdicts: Verdict[];
  /** Explanations of failed verdicts' images, by index into verdicts. */
  explanations: Map<number, string>;
  problems: PolicyProblem[];
  error: string | null;
}

export function expectationText(e: Expectation): string {
  const what = e.ref !== undefined ? e.ref : `image ${e.image!}`;
  const extra = [
    e.rule !== undefined ? `rule ${e.rule}` : null,
    e.reason !== undefined ? `reason ${e.reason}` : null,
    e.bytes !== undefined ? `${formatBytes(e.bytes)} reclaimed` : null,
  ].filter((x) => x !== null);
  return `${what} is ${e.fate}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

export function totals(outcomes: FileOutcome[]) {
  const verdicts = outcomes.flatMap((o) => o.verdicts);
  return {
    passed: verdicts.filter((v) => v.failures.length === 0).length,
    failed: verdicts.filter((v) => v.failures.length > 0).length,
    errors: outcomes.filter((o) => o.problems.length > 0 || o.error !== null).length,
  };
}

export function formatTestText(outcomes: FileOutcome[]): string {
  const out: string[] = [];
  for (const o of outcomes) {
    if (o.problems.length > 0 || o.error !== null) {
      out.push(`ERROR ${o.file}`);
      for (const p of o.problems) out.push(`  ${formatProblem(p)}`);
      if (o.error !== null) out.push(`  ${o.error}`);
      continue;
    }
    const failed = o.verdicts.filter((v) => v.failures.length > 0).length;
    out.push(
      `${failed === 0 ? 'PASS' : 'FAIL'} ${o.file} (${o.verdicts.length} expectations${failed ? `, ${failed} failed` : ''})`,
    );
    o.verdicts.forEach((v, i) => {
      if (v.failures.length === 0) return;
      out.push(`  ${o.file}:${v.expectation.line} ${expectationText(v.expectation)}: ${v.failures.join('; ')}`);
      const why = o.explanations.get(i);
      if (why)
        out.push(
          ...why
            .trimEnd()
            .split('\n')
            .map((l) => `      ${l}`),
        );
    });
  }
  const t = totals(outcomes);
  out.push(
    `${t.passed} passed, ${t.failed} failed${t.errors ? `, ${t.errors} ${t.errors === 1 ? 'file' : 'files'} with errors` : ''}`,
  );
  return `${escapeControls(out.join('\n'))}\n`;
}

/** XML 1.0 text: markup characters as entities, characters XML cannot hold as \uXXXX. */
function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(
      // eslint-disable-next-line no-control-regex -- XML 1.0 cannot hold these, even as references
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
}

export function formatTestJunit(outcomes: FileOutcome[]): string {
  const t = totals(outcomes);
  const tests = outcomes.reduce((n, o) => n + Math.max(o.verdicts.length, o.verdicts.length === 0 ? 1 : 0), 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="imgsweep test" tests="${tests}" failures="${t.failed}" errors="${t.errors}">`,
  ];
  for (const o of outcomes) {
    const broken = o.problems.length > 0 || o.error !== null;
    const failed = o.verdicts.filter((v) => v.failures.length > 0).length;
    out.push(
      `  <testsuite name="${xml(o.name)}" file="${xml(o.file)}" tests="${broken ? 1 : o.verdicts.length}" failures="${failed}" errors="${broken ? 1 : 0}">`,
    );
    if (broken) {
      const message = [...o.problems.map(formatProblem), ...(o.error !== null ? [o.error] : [])].join('\n');
      out.push(
        `    <testcase classname="${xml(o.file)}" name="the test file"><error message="${xml(message.split('\n')[0]!)}">${xml(message)}</error></testcase>`,
      );
    }
    o.verdicts.forEach((v, i) => {
      const name = `${xml(o.file)}:${v.expectation.line} ${xml(expectationText(v.expectation))}`;
      if (v.failures.length === 0) {
        out.push(`    <testcase classname="${xml(o.file)}" name="${name}"/>`);
        return;
      }
      const body = [v.failures.join('; '), o.explanations.get(i) ?? ''].join('\n').trimEnd();
      out.push(
        `    <testcase classname="${xml(o.file)}" name="${name}"><failure message="${xml(v.failures.join('; '))}">${xml(body)}</failure></testcase>`,
      );
    });
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
