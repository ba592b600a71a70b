/**
 * The invalid-policy corpus: every file in test/policy/invalid/ must be refused with positioned problems.
 *
 * One row per file. A row names the expected first problem (or, with `pick`, the problem at that path):
 * its code, key path, line (and column where it is meaningful) and, for some rows, a message substring.
 *
 * Generated files (kept as committed bytes, regenerate only on purpose):
 * - 35-glob-too-long.yaml: a tag glob of 70 000 "a" then "*" (minimatch refuses patterns over 64 KiB).
 * - 71-too-large.yaml: a tiny valid policy padded with comment lines to just over 2 MiB.
 * - 77-binary-junk.bin: 384 bytes from mulberry32 seeded with 0x1badf00d, bytes 40 and 200 set to NUL.
 * - 78-invalid-utf8.yaml: Latin-1 "é" (0xE9) in a name, no NUL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyFile, parsePolicy, type PolicyResult } from '../../src/policy/load.js';
import { formatProblem, type PolicyProblem, type ProblemCode } from '../../src/policy/problems.js';

const DIR = fileURLToPath(new URL('./invalid/', import.meta.url));

interface Row {
  file: string;
  code: ProblemCode;
  path: string;
  line: number;
  col?: number;
  /** A substring of the message. */
  message?: string;
  /** Check the problem at this path instead of the first one. */
  pick?: string;
}

const DURATION_HINT = '(examples: 90m, 3d, 1d12h)';

const ROWS: Row[] = [
  // YAML syntax
  {
    file: '01-bad-indentation.yaml',
    code: 'syntax',
    path: '(root)',
    line: 6,
    col: 6,
    message: 'this key is indented by 5 spaces, but the keys above it are at 6 (line 5) and one level up at 4',
  },
  // The quote opens on line 2; the parser only notices at the end of the file (line 4, past the last line).
  { file: '02-unclosed-quote.yaml', code: 'syntax', path: '(root)', line: 2, message: 'quote' },
  // The bracket opens on line 3.
  { file: '03-unclosed-bracket.yaml', code: 'syntax', path: '(root)', line: 3 },
  { file: '04-tab-indentation.yaml', code: 'syntax', path: '(root)', line: 3, col: 1, message: 'Tabs' },
  // wrong types and versions
  { file: '05-version-string.yaml', code: 'enum', path: 'version', line: 1, col: 10, message: 'must be 1' },
  { file: '06-rules-mapping.yaml', code: 'type', path: 'rules', line: 3, col: 3, message: 'must be a list' },
  {
    file: '07-tags-string.yaml',
    code: 'type',
    path: 'rules[0].match.tags',
    line: 5,
    col: 13,
    message: 'must be a list',
  },
  { file: '08-olderthan-number.yaml', code: 'type', path: 'rules[0].olderThan', line: 5, col: 16 },
  {
    file: '09-untagged-string.yaml',
    code: 'type',
    path: 'rules[0].match.untagged',
    line: 4,
    col: 24,
    message: 'true or false',
  },
  { file: '10-version-2.yaml', code: 'enum', path: 'version', line: 1, col: 10, message: 'must be 1' },
  { file: '11-missing-version.yaml', code: 'required', path: '(root)', line: 1, col: 1, message: '"version"' },
  // unknown keys at every level
  {
    file: '12-unknown-key-top.yaml',
    code: 'unknown-key',
    path: 'cleanup',
    line: 2,
    col: 1,
    message: 'unknown key "cleanup"',
  },
  {
    file: '13-unknown-key-protect.yaml',
    code: 'unknown-key',
    path: 'protect.digests',
    line: 4,
    col: 3,
    message: 'allowed: images',
  },
  {
    file: '14-unknown-key-containers.yaml',
    code: 'unknown-key',
    path: 'containers.running',
    line: 4,
    col: 3,
    message: 'allowed: stopped, stoppedFor',
  },
  { file: '15-unknown-key-rule.yaml', code: 'unknown-key', path: 'rules[0].schedule', line: 5, col: 5 },
  { file: '16-unknown-key-match.yaml', code: 'unknown-key', path: 'rules[0].match.platform', line: 6, col: 7 },
  {
    file: '17-unknown-key-exclude.yaml',
    code: 'unknown-key',
    path: 'rules[0].match.exclude.platform',
    line: 8,
    col: 9,
  },
  { file: '18-unknown-key-keep.yaml', code: 'unknown-key', path: 'rules[0].keep.oldest', line: 5, col: 24 },
  { file: '19-unknown-key-disk.yaml', code: 'unknown-key', path: 'disk.minFree', line: 4, col: 3 },
  { file: '20-unknown-key-limits.yaml', code: 'unknown-key', path: 'limits.maxBytes', line: 4, col: 3 },
  // misspelled keys: did-you-mean
  {
    file: '21-typo-olderthan.yaml',
    code: 'unknown-key',
    path: 'rules[0].olderthan',
    line: 5,
    col: 5,
    message: 'did you mean "olderThan"?',
  },
  {
    file: '22-typo-unsedfor.yaml',
    code: 'unknown-key',
    path: 'rules[0].unsedFor',
    line: 5,
    col: 5,
    message: 'did you mean "unusedFor"?',
  },
  {
    file: '23-typo-repository.yaml',
    code: 'unknown-key',
    path: 'rules[0].match.repository',
    line: 5,
    col: 7,
    message: 'did you mean "repositories"?',
  },
  {
    file: '24-typo-tag.yaml',
    code: 'unknown-key',
    path: 'protect.tag',
    line: 3,
    col: 3,
    message: 'did you mean "tags"?',
  },
  // match shapes
  {
    file: '25-match-empty.yaml',
    code: 'empty-value',
    path: 'rules[0].match',
    line: 4,
    col: 12,
    message: 'never "everything"',
  },
  {
    file: '26-match-only-exclude.yaml',
    code: 'empty-value',
    path: 'rules[0].match',
    line: 4,
    col: 5,
    message: 'besides exclude',
  },
  { file: '27-exclude-empty.yaml', code: 'empty-value', path: 'rules[0].match.exclude', line: 6, col: 16 },
  {
    file: '28-untagged-with-tags.yaml',
    code: 'semantic',
    path: 'rules[0].match.untagged',
    line: 5,
    col: 7,
    message: 'can never match',
  },
  // patterns
  {
    file: '29-pattern-empty-string.yaml',
    code: 'empty-value',
    path: 'protect.repositories[0]',
    line: 3,
    col: 18,
    message: 'can never match',
  },
  {
    file: '30-pattern-whitespace.yaml',
    code: 'format',
    path: 'rules[0].match.tags[0]',
    line: 5,
    col: 14,
    message: 'can never match',
  },
  {
    file: '31-repository-uppercase.yaml',
    code: 'format',
    path: 'protect.repositories[0]',
    line: 3,
    col: 18,
    message: 'can never match: repositories are lower case',
  },
  {
    file: '32-reference-uppercase-repository.yaml',
    code: 'format',
    path: 'protect.references[1]',
    line: 3,
    col: 29,
    message: 'can never match',
  },
  {
    file: '33-reference-without-tag.yaml',
    code: 'format',
    path: 'protect.references[0]',
    line: 3,
    col: 16,
    message: 'repository:tag',
  },
  // "[z-a]" is a reversed range: minimatch compiles it to a regexp that matches nothing.
  {
    file: '34-glob-reversed-range.yaml',
    code: 'pattern',
    path: 'rules[0].match.tags[0]',
    line: 5,
    col: 14,
    message: 'can never match',
  },
  // minimatch throws "pattern is too long" over 64 KiB: must be a positioned problem, not a crash.
  { file: '35-glob-too-long.yaml', code: 'range', path: 'protect.tags[0]', line: 3, col: 10 },
  // durations
  {
    file: '36-duration-words.yaml',
    code: 'format',
    path: 'rules[0].olderThan',
    line: 5,
    col: 16,
    message: `"3 days" is not a duration ${DURATION_HINT}`,
  },
  {
    file: '37-duration-fraction.yaml',
    code: 'format',
    path: 'protect.youngerThan',
    line: 3,
    col: 16,
    message: DURATION_HINT,
  },
  {
    file: '38-duration-negative.yaml',
    code: 'format',
    path: 'containers.stoppedFor',
    line: 4,
    col: 15,
    message: DURATION_HINT,
  },
  {
    file: '39-duration-hex.yaml',
    code: 'format',
    path: 'rules[0].unusedFor',
    line: 5,
    col: 16,
    message: DURATION_HINT,
  },
  {
    file: '40-duration-empty.yaml',
    code: 'format',
    path: 'rules[0].olderThan',
    line: 5,
    col: 16,
    message: DURATION_HINT,
  },
  // sizes
  { file: '41-size-no-unit.yaml', code: 'type', path: 'disk.maxImageBytes', line: 3, col: 18 },
  { file: '42-size-words.yaml', code: 'format', path: 'disk.maxImageBytes', line: 3, col: 18, message: '500MB, 2GiB' },
  {
    file: '43-size-unit-only.yaml',
    code: 'format',
    path: 'disk.maxImageBytes',
    line: 3,
    col: 18,
    message: 'not a size',
  },
  // percentages
  { file: '44-percent-no-sign.yaml', code: 'type', path: 'disk.maxUsage', line: 3, col: 13 },
  {
    file: '45-percent-over-100.yaml',
    code: 'format',
    path: 'disk.maxUsage',
    line: 3,
    col: 13,
    message: 'not a percentage',
  },
  {
    file: '46-percent-negative.yaml',
    code: 'format',
    path: 'disk.targetUsage',
    line: 4,
    col: 16,
    message: 'not a percentage',
  },
  {
    file: '47-percent-fraction-over-100.yaml',
    code: 'format',
    path: 'disk.maxUsage',
    line: 3,
    col: 13,
    message: 'not a percentage',
  },
  // disk semantics
  {
    file: '48-target-usage-not-below-max.yaml',
    code: 'semantic',
    path: 'disk.targetUsage',
    line: 4,
    col: 16,
    message: 'must be below maxUsage',
  },
  {
    file: '49-target-bytes-over-max.yaml',
    code: 'semantic',
    path: 'disk.targetImageBytes',
    line: 4,
    col: 21,
    message: 'must not exceed maxImageBytes',
  },
  {
    file: '50-target-usage-without-max.yaml',
    code: 'required',
    path: 'disk.targetUsage',
    line: 3,
    col: 3,
    message: 'needs maxUsage',
  },
  { file: '51-disk-only-order.yaml', code: 'required', path: 'disk', line: 2, col: 1, message: 'maxUsage' },
  // keep, action, containers, limits
  { file: '52-keep-newest-zero.yaml', code: 'range', path: 'rules[0].keep.newest', line: 5, col: 21, message: '>= 1' },
  { file: '53-keep-newest-negative.yaml', code: 'range', path: 'rules[0].keep.newest', line: 6, col: 15 },
  {
    file: '54-keep-newest-fraction.yaml',
    code: 'type',
    path: 'rules[0].keep.newest',
    line: 6,
    col: 15,
    message: 'whole number',
  },
  {
    file: '55-keep-without-newest.yaml',
    code: 'required',
    path: 'rules[0].keep',
    line: 5,
    col: 5,
    message: '"newest"',
  },
  {
    file: '56-keep-by-wrong.yaml',
    code: 'enum',
    path: 'rules[0].keep.by',
    line: 7,
    col: 11,
    message: '"created", "lastUsed"',
  },
  {
    file: '57-action-wrong.yaml',
    code: 'enum',
    path: 'rules[0].action',
    line: 5,
    col: 13,
    message: '"delete", "untag"',
  },
  {
    file: '58-containers-stopped-wrong.yaml',
    code: 'enum',
    path: 'containers.stopped',
    line: 3,
    col: 12,
    message: '"protect", "remove"',
  },
  { file: '59-limits-zero.yaml', code: 'range', path: 'limits.maxDeletions', line: 3, col: 17 },
  { file: '60-limits-negative.yaml', code: 'range', path: 'limits.maxDeletions', line: 3, col: 17 },
  {
    file: '61-limits-percent-150.yaml',
    code: 'range',
    path: 'limits.maxDeletionsPercent',
    line: 3,
    col: 24,
    message: '<= 100',
  },
  // duplicates: the key path of the second occurrence, and the key named in the message
  { file: '62-duplicate-key-top.yaml', code: 'duplicate-key', path: 'version', line: 3, col: 1, message: 'version' },
  {
    file: '63-duplicate-key-in-rule.yaml',
    code: 'duplicate-key',
    path: 'rules[0].olderThan',
    line: 6,
    col: 5,
    message: 'olderThan',
  },
  {
    file: '64-duplicate-rule-name.yaml',
    code: 'duplicate-name',
    path: 'rules[2].name',
    line: 7,
    col: 11,
    message: 'already used by rules[0]',
  },
  // rules
  { file: '65-rule-without-name.yaml', code: 'required', path: 'rules[0]', line: 3, col: 5, message: '"name"' },
  { file: '66-rule-without-match.yaml', code: 'required', path: 'rules[0]', line: 3, col: 5, message: '"match"' },
  { file: '67-rule-name-characters.yaml', code: 'format', path: 'rules[0].name', line: 3, col: 11 },
  {
    file: '68-image-id-too-short.yaml',
    code: 'format',
    path: 'protect.images[0]',
    line: 3,
    col: 12,
    message: 'not an image ID',
  },
  {
    file: '69-image-id-not-hex.yaml',
    code: 'format',
    path: 'protect.images[0]',
    line: 3,
    col: 12,
    message: 'not an image ID',
  },
  // whole-file problems
  { file: '70-alias-bomb.yaml', code: 'alias', path: '(root)', line: 3, col: 8, message: 'alias' },
  { file: '71-too-large.yaml', code: 'too-large', path: '(root)', line: 1, col: 1, message: '1 MiB' },
  { file: '72-empty.yaml', code: 'empty', path: '(root)', line: 1, col: 1, message: 'empty' },
  { file: '73-only-comments.yaml', code: 'empty', path: '(root)', line: 1, col: 1, message: 'empty' },
  { file: '74-top-level-list.yaml', code: 'not-mapping', path: '(root)', line: 1, col: 1, message: 'not a list' },
  {
    file: '75-top-level-scalar.yaml',
    code: 'not-mapping',
    path: '(root)',
    line: 1,
    col: 1,
    message: 'not a single value',
  },
  {
    file: '76-two-documents.yaml',
    code: 'multi-document',
    path: '(root)',
    line: 3,
    col: 1,
    message: 'more than one YAML document',
  },
  { file: '77-binary-junk.bin', code: 'encoding', path: '(root)', line: 1, message: 'UTF-8' },
  // 0xE9 is the 11th character of line 2 (`name: "caf` is 10 characters).
  { file: '78-invalid-utf8.yaml', code: 'encoding', path: '(root)', line: 2, col: 11, message: 'UTF-8' },
  { file: '79-json-rules-object.json', code: 'type', path: 'rules', line: 3, col: 12, message: 'must be a list' },
  // several errors at once: see the dedicated test below for the full list
  { file: '80-several-errors.yaml', code: 'format', path: 'protect.tags[1]', line: 4, col: 20 },
  // Patterns the matcher could not honour in full, or in bounded time: refused, never matched partly.
  {
    file: '81-braces-beyond-full-expansion.yaml',
    code: 'pattern',
    path: 'protect.tags[0]',
    line: 3,
    col: 10,
    message: 'is refused: its braces expand to more than 1,000 patterns',
  },
  {
    file: '82-too-many-wildcards.yaml',
    code: 'pattern',
    path: 'protect.tags[0]',
    line: 3,
    col: 10,
    message: 'it has 8 wildcards ("*", "*(…)", "+(…)", "!(…)") in one path segment',
  },
  {
    file: '83-repeated-group-with-choice.yaml',
    code: 'pattern',
    path: 'rules[0].match.references[0]',
    line: 5,
    col: 20,
    message: 'it repeats a group',
  },
  {
    file: '84-braces-over-limit.yaml',
    code: 'pattern',
    path: 'protect.repositories[0]',
    line: 3,
    col: 18,
    message: 'is refused: its braces expand',
  },
  // Numbers too large to hold exactly: refused with their position, never taken as something else.
  {
    file: '85-size-too-large.yaml',
    code: 'format',
    path: 'disk.maxImageBytes',
    line: 3,
    col: 18,
    message: 'is not a size (examples: 500MB, 2GiB; at most 8 PiB)',
  },
  {
    file: '86-number-too-large.yaml',
    code: 'type',
    path: 'limits.maxDeletions',
    line: 6,
    col: 17,
    message: 'must be a whole number, not a number too large (Infinity)',
  },
  // Within the alias count, yet millions of nodes once expanded: refused before anything is expanded.
  {
    file: '87-alias-expansion.yaml',
    code: 'alias',
    path: '(root)',
    line: 3007,
    col: 8,
    message: 'aliases expand the policy past 250,000 nodes',
  },
  // Indentation: the line to change, whatever line the parser stopped at (it often stops a line early, at the value
  // before, or a line late). Each file's comment says what the parser itself reported.
  // Parser: 3:11 "Nested mappings are not allowed in compact mappings" (at the value of `name`).
  {
    file: '88-key-one-space-too-far-in-list-item.yaml',
    code: 'syntax',
    path: '(root)',
    line: 4,
    col: 6,
    message: 'this key is indented by 5 spaces, more than "name" on line 3 (at 4)',
  },
  // Parser: 6:1 "Sequence item without - indicator".
  {
    file: '89-key-one-space-too-little-in-list-item.yaml',
    code: 'syntax',
    path: '(root)',
    line: 6,
    col: 4,
    message: 'indented by 3 spaces, but the keys above it are at 4 (line 4) and the list items one level up at 2',
  },
  // Parser: 6:16 "Nested mappings are not allowed in compact mappings" (at `3d`).
  {
    file: '90-key-indented-past-a-scalar-value.yaml',
    code: 'syntax',
    path: '(root)',
    line: 7,
    col: 6,
    message: 'so it is read as part of its value; line it up with "olderThan"',
  },
  // Parser: 7:1 "A block sequence may not be used as an implicit map key".
  {
    file: '91-list-item-less-indented-than-siblings.yaml',
    code: 'syntax',
    path: '(root)',
    line: 7,
    col: 2,
    message: 'this list item is indented by 1 space, but the list items above it are at 2 (line 3)',
  },
  // Parser: 7:4 "All sequence items must start at the same column".
  {
    file: '92-list-item-more-indented-than-siblings.yaml',
    code: 'syntax',
    path: '(root)',
    line: 7,
    col: 4,
    message: 'this list item is indented by 3 spaces',
  },
  // Parser: 4:1 "All mapping items must start at the same column".
  {
    file: '93-keys-aligned-with-dash.yaml',
    code: 'syntax',
    path: '(root)',
    line: 4,
    col: 3,
    message: 'like the "-" on line 3, but is not a list item; the keys of that item go at 4',
  },
  // Valid YAML: the keys under an unindented "-" are top-level keys (and the rule lacks "match", line 3).
  {
    file: '94-keys-aligned-with-unindented-dash.yaml',
    code: 'unknown-key',
    path: 'match',
    line: 4,
    col: 1,
    message: 'unknown key "match"',
    pick: 'match',
  },
  // Parser: 7:1 "A block sequence may not be used as an implicit map key".
  {
    file: '95-rules-items-not-indented-then-indented.yaml',
    code: 'syntax',
    path: '(root)',
    line: 7,
    col: 3,
    message: 'this list item is indented by 2 spaces, but the list items above it are at 0 (line 3)',
  },
  // Valid YAML: a key at the column of an unindented rule's keys belongs to the rule.
  {
    file: '96-rules-items-not-indented-later-key-indented.yaml',
    code: 'unknown-key',
    path: 'rules[0].protect',
    line: 7,
    col: 3,
    message: 'unknown key "protect"',
  },
  // Parser: 4:11 "Sequence item without - indicator" (the end of `match:`).
  {
    file: '97-value-on-next-line-under-indented.yaml',
    code: 'syntax',
    path: '(root)',
    line: 5,
    col: 4,
    message: '"match" on line 4 is at 4: indent it more to put it inside',
  },
  // Valid YAML: `match` is empty (reported first, line 4) and `tags` a key of the rule.
  {
    file: '98-value-on-next-line-not-indented.yaml',
    code: 'unknown-key',
    path: 'rules[0].tags',
    line: 5,
    col: 5,
    message: 'unknown key "tags"',
    pick: 'rules[0].tags',
  },
  // Parser: 4:1 "All mapping items must start at the same column"; line 3 is the one out of line with the others.
  {
    file: '99-first-key-of-block-not-indented.yaml',
    code: 'syntax',
    path: '(root)',
    line: 3,
    col: 1,
    message: 'like "protect" on line 2, which it leaves without a value',
  },
  // Parser: 6:1 "All mapping items must start at the same column"; the rest of the file steps by 2.
  {
    file: '100-mixed-2-and-4-spaces-in-mapping.yaml',
    code: 'syntax',
    path: '(root)',
    line: 5,
    col: 9,
    message: 'this key is indented by 8 spaces, but the next key (line 6) is at 6',
  },
  // Parser: 6:1 "A block sequence may not be used as an implicit map key"; the rest of the file steps by 2.
  {
    file: '101-mixed-2-and-4-spaces-in-list.yaml',
    code: 'syntax',
    path: '(root)',
    line: 3,
    col: 5,
    message: 'this list item is indented by 4 spaces, but the next list item (line 6) is at 2',
  },
  // Parser: 5:1 "All mapping items must start at the same column"; two keys at 4, one at 2.
  {
    file: '102-mixed-2-and-4-spaces-majority.yaml',
    code: 'syntax',
    path: '(root)',
    line: 5,
    col: 3,
    message: 'this key is indented by 2 spaces, but the keys above it are at 4 (line 4)',
  },
  // Parser: 5:1 "Tabs are not allowed as indentation".
  { file: '103-tab-in-the-middle.yaml', code: 'syntax', path: '(root)', line: 5, col: 1, message: 'Tabs' },
  // Parser: 6:1 "All mapping items must start at the same column"; the tab is the 3rd character.
  { file: '104-tab-between-spaces.yaml', code: 'syntax', path: '(root)', line: 6, col: 3, message: 'Tabs' },
  // Parser: 6:5 "Flow sequence in block collection must be sufficiently indented and end with a ]".
  {
    file: '105-flow-sequence-continued-under-indented.yaml',
    code: 'syntax',
    path: '(root)',
    line: 6,
    col: 5,
    message: 'continues the [ opened on line 5, so it must be indented by at least 7 spaces (it is 4)',
  },
  // Parser: 1:10 "Nested mappings are not allowed in compact mappings" (at the `1` of `version: 1`).
  {
    file: '106-stray-space-before-top-level-key.yaml',
    code: 'syntax',
    path: '(root)',
    line: 2,
    col: 2,
    message: 'more than "version" on line 1 (at 0)',
  },
  // Parser: 2:1 "Unexpected scalar at node end".
  {
    file: '107-first-line-indented.yaml',
    code: 'syntax',
    path: '(root)',
    line: 1,
    col: 2,
    message: 'top-level keys start at column 1',
  },
  // Parser: 3:10 "Nested mappings are not allowed in compact mappings".
  {
    file: '108-dash-without-space.yaml',
    code: 'syntax',
    path: '(root)',
    line: 3,
    col: 3,
    message: 'a list item needs a space after the "-"',
  },
  // Parser: 7:1 "A block sequence may not be used as an implicit map key".
  {
    file: '109-nested-list-item-indented-less.yaml',
    code: 'syntax',
    path: '(root)',
    line: 7,
    col: 8,
    message: 'the list items above it are at 8 (line 6)',
  },
];

const SEVERAL_ERRORS_PATHS = [
  'protect.tags[1]',
  'protect.youngerThan',
  'rules[0].olderthan',
  'rules[1].keep.newest',
  'rules[1].action',
  'disk.maxUsage',
  'limits.maxDeletions',
];

const results = new Map<string, PolicyResult>();

async function load(file: string): Promise<PolicyResult> {
  let r = results.get(file);
  if (!r) {
    r = await loadPolicyFile(DIR + file);
    results.set(file, r);
  }
  return r;
}

function problemsOf(r: PolicyResult): PolicyProblem[] {
  if (r.ok)
    throw new Error(
      `expected the policy to be refused, but it loaded (rules: ${r.policy.rules.map((x) => x.name).join(', ')})`,
    );
  return r.problems;
}

describe('invalid policy corpus', () => {
  const files = readdirSync(DIR).sort();

  it('has a row for every file and a file for every row', () => {
    const rowFiles = ROWS.map((r) => r.file).sort();
    expect(new Set(rowFiles).size).toBe(rowFiles.length);
    expect(files).toEqual(rowFiles);
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  it('keeps the generated files the size they claim', () => {
    expect(readFileSync(DIR + '71-too-large.yaml').length).toBeGreaterThan(2 * 1024 * 1024);
    const junk = readFileSync(DIR + '77-binary-junk.bin');
    expect(junk.includes(0)).toBe(true);
    const utf8 = readFileSync(DIR + '78-invalid-utf8.yaml');
    expect(utf8.includes(0)).toBe(false);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(utf8)).toThrow();
  });

  describe.each(ROWS)('$file', (row) => {
    it(`is refused: ${row.code} at ${row.path} line ${row.line}`, async () => {
      const problems = problemsOf(await load(row.file));
      const p = row.pick ? problems.find((x) => x.path === row.pick) : problems[0];
      expect(
        p,
        `no problem at ${row.pick ?? 'first position'}; got ${problems.map(formatProblem).join(' | ')}`,
      ).toBeDefined();
      expect({ code: p!.code, path: p!.path, line: p!.line }, formatProblem(p!)).toEqual({
        code: row.code,
        path: row.path,
        line: row.line,
      });
      if (row.col !== undefined) expect(p!.col, formatProblem(p!)).toBe(row.col);
      if (row.message !== undefined) expect(p!.message).toContain(row.message);
      expect(p!.file).toBe(DIR + row.file);
    });

    it('reports problems sorted by (line, col), each path once, each positioned', async () => {
      const problems = problemsOf(await load(row.file));
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) {
        expect(p.line).toBeGreaterThanOrEqual(1);
        expect(p.col).toBeGreaterThanOrEqual(1);
        expect(p.path).not.toBe('');
        expect(p.message).not.toBe('');
        expect(p.message).not.toContain('\n');
      }
      for (let i = 1; i < problems.length; i++) {
        const a = problems[i - 1]!;
        const b = problems[i]!;
        expect(
          a.line < b.line || (a.line === b.line && a.col <= b.col),
          `${formatProblem(a)} before ${formatProblem(b)}`,
        ).toBe(true);
      }
      const paths = problems.map((p) => p.path);
      expect(paths, problems.map(formatProblem).join('\n')).toEqual([...new Set(paths)]);
    });

    it('gives the same answer from parsePolicy on the bytes', async () => {
      const bytes = readFileSync(DIR + row.file);
      const direct = parsePolicy(bytes, DIR + row.file);
      expect(direct).toEqual(await load(row.file));
    });
  });

  it('reports every error of a file with several, in line order', async () => {
    const problems = problemsOf(await load('80-several-errors.yaml'));
    expect(problems.map((p) => p.path)).toEqual(SEVERAL_ERRORS_PATHS);
    expect(problems.map((p) => p.line)).toEqual([4, 5, 9, 13, 14, 16, 19]);
  });

  it('refuses an alias bomb quickly', () => {
    const started = performance.now();
    const r = parsePolicy(readFileSync(DIR + '70-alias-bomb.yaml'), 'bomb.yaml');
    expect(r.ok).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('imgsweep validate on the invalid corpus', () => {
  type Run = (argv: string[], io: import('../../src/cli/io.js').CliIo) => Promise<number>;
  let run: Run;
  beforeAll(async () => {
    // Imported here so that a half-built CLI fails these tests only, not the loader table above.
    ({ run } = await import('../../src/cli/main.js'));
  });

  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it.each(ROWS.map((r) => r.file))('%s: exit 2, positioned problems on stderr', async (name) => {
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (s: string) => ((stdout += s), true) },
      stderr: { write: (s: string) => ((stderr += s), true) },
      stdin: process.stdin,
      env: {},
      cwd: process.cwd(),
    };
    const file = DIR + name;
    const code = await run(['validate', file], io);
    expect(code, stderr).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBeGreaterThan(0);
    const shape = new RegExp(`^${escape(file)}:(\\d+):(\\d+) (\\S+): (.+)$`);
    for (const line of lines) expect(line).toMatch(shape);
    const problems = problemsOf(await load(name));
    expect(lines).toEqual(problems.map(formatProblem));
  });
});
