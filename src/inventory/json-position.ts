/** Where a JSON text first goes wrong, as line:col (V8's messages do not always say). */

/** "line:col: not valid JSON: why" for the first syntax error (V8's messages do not always carry a position). */
export function syntaxErrorPosition(text: string): string {
  let offset = text.length;
  try {
    offset = firstSyntaxError(text);
  } catch {
    // Nesting too deep for the scanner: point at the end.
  }
  const before = text.slice(0, offset).split('\n');
  const what = offset >= text.length ? 'unexpected end of file' : `unexpected ${JSON.stringify(text[offset])}`;
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}: not valid JSON: ${what}`;
}

function firstSyntaxError(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(i);
  };
  const ws = (): void => {
    while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++;
  };
  const expect = (c: string): void => {
    ws();
    if (s[i] !== c) fail();
    i++;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const escape = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = s[i];
      if (c === undefined || c < ' ') fail();
      else if (c === '"') return void i++;
      else if (c === '\\') {
        escape.lastIndex = i;
        if (!escape.test(s)) fail();
        i = escape.lastIndex;
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (s[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          string();
          expect(':');
        }
        value();
        ws();
        if (s[i] === ',') i++;
        else return expect(close);
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) if (s.startsWith(word, i)) return void (i += word.length);
    number.lastIndex = i;
    if (!number.test(s)) fail();
    i = number.lastIndex;
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
  } catch (err) {
    if (err instanceof SyntaxAt) return err.offset;
    throw err;
  }
  return s.length;
}

class SyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`);
  }
}
