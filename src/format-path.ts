/** A key path as messages show it: `rules[1].match.tags[0]`, `labels["com.acme/keep"]`, `(root)` for none. */
export function formatPath(segments: readonly (string | number)[]): string {
  if (segments.length === 0) return '(root)';
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (!/^[A-Za-z_$][\w$-]*$/.test(s)) out += `[${JSON.stringify(s)}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}
