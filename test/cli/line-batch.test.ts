import { describe, expect, it } from 'vitest';
import { LineBatch } from '../../src/cli/io.js';

describe('LineBatch', () => {
  it('writes the lines of one turn of the event loop at once, in order, and nothing is lost on flush', async () => {
    const writes: string[] = [];
    const batch = new LineBatch({ write: (chunk) => writes.push(chunk) > 0 });
    batch.write('a\n');
    batch.write('b\n');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\n']);
    batch.write('c\n');
    batch.flush();
    expect(writes).toEqual(['a\nb\n', 'c\n']);
    // The scheduled flush finds nothing left and writes nothing.
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\n', 'c\n']);
  });
});
